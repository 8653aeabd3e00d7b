import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { meshed, startNode } from "./_testing.ts";

const str = (b: Uint8Array) => new TextDecoder().decode(b);

needsNats.test("NatsForwarder waits for a forwarded call as long as its route's own time limit, not the home server's", async () => {
  await using nats = await startNatsServer();
  await using serving = await startNode({
    servers: nats.url,
    setup: (s) =>
      void s.handle(
        "/patient",
        () =>
          new Promise<string>((done) => setTimeout(() => done("done"), 800)),
        { timeout: 5000 },
      ),
  });
  await using home = await startNode({
    servers: nats.url,
    server: { handlerTimeout: 200 },
  });
  await meshed([serving, home]);
  const client = await home.connect();
  const answer = await client.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/patient" },
  });
  assert.equal(answer.responseStatus, Status.OK, str(answer.data));
  assert.equal(str(answer.data), "done");
});
