// Updates the serving node's middleware sends while it handles a forwarded
// SUBSCRIBE reach the home session after the ack, as a local SUBSCRIBE's.

import assert from "node:assert/strict";
import { RESPONSE, SUBSCRIBE, UPDATE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { Status } from "../wasm/wire.ts";
import { startNode } from "./_testing.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

needsNats.test("NatsForwarder delivers a snapshot sent during a forwarded SUBSCRIBE after its ack", async () => {
  await using nats = await startNatsServer();
  await using _holder = await startNode({
    servers: nats.url,
    setup: (server) => {
      server.use(async (ctx, next) => {
        if (ctx.kind !== "subscribe") return next();
        ctx.session.sendUpdate(ctx.requestId, text("snapshot"));
        await next();
      });
      server.topic("/remote");
    },
  });
  await using home = await startNode({ servers: nats.url });
  const peer = await home.connect();
  await peer.send({
    requestId: 4,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/remote" },
  });
  const ack = await peer.read();
  assert.deepEqual(
    [ack.requestId, ack.responseType, ack.responseStatus],
    [4, RESPONSE, Status.OK],
  );
  const update = await peer.read();
  assert.deepEqual(
    [update.requestId, update.responseType, str(update.data)],
    [4, UPDATE, "snapshot"],
  );
});

needsNats.test("NatsForwarder drops a snapshot sent during a forwarded SUBSCRIBE that is refused", async () => {
  await using nats = await startNatsServer();
  await using _holder = await startNode({
    servers: nats.url,
    setup: (server) => {
      server.use((ctx, next) => {
        if (ctx.kind !== "subscribe") return next();
        ctx.session.sendUpdate(ctx.requestId, text("snapshot"));
        return undefined; // Refused: next() is never called.
      });
      server.topic("/remote");
    },
  });
  await using home = await startNode({ servers: nats.url });
  const peer = await home.connect();
  const refused = await peer.call({
    requestId: 4,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/remote" },
  });
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  const pong = await peer.call({ requestId: 5, requestType: 1 });
  assert.equal(pong.requestId, 5, "no UPDATE came after the refusal");
});
