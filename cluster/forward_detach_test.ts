import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { meshed, startNode } from "./_testing.ts";

needsNats.test("NatsForwarder detach and close called together stop serving once and count what was served once", async () => {
  await using nats = await startNatsServer();
  await using serving = await startNode({
    servers: nats.url,
    setup: (s) => void s.handle("/echo", (ctx) => ctx.data),
  });
  await using home = await startNode({ servers: nats.url });
  await meshed([serving, home]);
  const client = await home.connect();
  const answer = await client.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: new Uint8Array([1]),
  });
  assert.equal(answer.responseStatus, Status.OK);
  const forward = serving.forward;
  assert.equal(forward.stats.served, 1);
  await Promise.all([forward.detach(), forward.detach(), forward.close()]);
  assert.equal(forward.stats.served, 1, "served counted once");
  assert.equal(forward.stats.serving, 0);
  assert.equal(forward.stats.nodes, 0);
});
