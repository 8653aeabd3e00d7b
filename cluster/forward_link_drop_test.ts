import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { waitFor } from "../testing/wait.ts";
import { meshed, startNode } from "./_testing.ts";

needsNats.test("NatsForwarder answers a call in flight INTERNAL_ERROR as soon as NATS drops, not at the time limit", async () => {
  await using nats = await startNatsServer();
  let entered = false;
  await using serving = await startNode({
    servers: nats.url,
    setup: (s) =>
      void s.handle("/stuck", () => {
        entered = true;
        return new Promise(() => {});
      }),
  });
  // Far longer than the read below waits: only the drop can answer it.
  await using home = await startNode({
    servers: nats.url,
    server: { handlerTimeout: 120_000 },
  });
  await meshed([serving, home]);
  const client = await home.connect();
  await client.send({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/stuck" },
  });
  await waitFor(() => entered, {
    message: "the serving node to take the call",
  });
  await nats.stop();
  const answer = await client.read(30_000);
  assert.equal(answer.requestId, 1);
  assert.equal(answer.responseStatus, Status.INTERNAL_ERROR);
  assert.match(answer.responseMessage, /Lost NATS .*\/stuck.*may have run/);
  assert.equal(home.forward.stats.inflight, 0);
  assert.equal(home.forward.stats.droppedBy.disconnected, 1);
});
