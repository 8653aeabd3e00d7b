// An update the holder sends right after a forwarded SUBSCRIBE's OK can
// reach the home node before the answer does: it follows the ack.

import assert from "node:assert/strict";
import { RESPONSE, SUBSCRIBE, UPDATE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { Status } from "../wasm/wire.ts";
import { startNode } from "./_testing.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

needsNats.test("NatsForwarder delivers an update sent right after a forwarded SUBSCRIBE's OK after the ack", async () => {
  await using nats = await startNatsServer();
  await using _holder = await startNode({
    servers: nats.url,
    setup: (server) => {
      server.topic("/remote");
      server.use(async (ctx, next) => {
        await next();
        if (ctx.kind !== "subscribe") return;
        const { session, requestId } = ctx;
        // After `requestId` microtask hops: some land after the
        // subscription is attached and before the answer is sent.
        let hops = Promise.resolve();
        for (let i = 0; i < requestId; i++) hops = hops.then();
        hops.then(() =>
          session.sendUpdate(requestId, text(`right after ${requestId}`))
        );
      });
    },
  });
  await using home = await startNode({ servers: nats.url });
  const peer = await home.connect();
  for (let id = 1; id <= 40; id++) {
    await peer.send({
      requestId: id,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/remote" },
    });
    const ack = await peer.read();
    assert.deepEqual(
      [ack.requestId, ack.responseType, ack.responseStatus],
      [id, RESPONSE, Status.OK],
    );
    const update = await peer.read(2000);
    assert.deepEqual(
      [update.requestId, update.responseType, str(update.data)],
      [id, UPDATE, `right after ${id}`],
    );
  }
});
