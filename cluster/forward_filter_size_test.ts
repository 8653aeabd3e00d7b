// maxFilterSize for subscriptions to a topic of another node: the home
// node keeps the filter (to subscribe again after an outage) and the
// serving node holds it, so both refuse one over their limit.

import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { SUBSCRIBE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import type { RawClient } from "../testing/raw_client.ts";
import { startNode } from "./_testing.ts";

function subscribe(client: RawClient, requestId: number, size: number) {
  return client.call({
    requestId,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/remote" },
    data: new Uint8Array(size).fill(1),
  });
}

needsNats.test("NatsForwarder home node refuses a filter over its maxFilterSize before forwarding", async () => {
  await using nats = await startNatsServer();
  await using _holder = await startNode({
    servers: nats.url,
    setup: (s) => void s.topic("/remote", { filter: () => true }),
  });
  await using home = await startNode({
    servers: nats.url,
    server: { maxFilterSize: 16 },
  });
  const peer = await home.connect();
  assert.equal((await subscribe(peer, 1, 16)).responseStatus, Status.OK);
  const refused = await subscribe(peer, 2, 17);
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(refused.responseMessage, /maxFilterSize of 16 bytes/);
  assert.equal(home.server.stats().subscriptions, 1);
});

needsNats.test("NatsForwarder serving node refuses a forwarded filter over its own maxFilterSize", async () => {
  await using nats = await startNatsServer();
  await using _holder = await startNode({
    servers: nats.url,
    setup: (s) => void s.topic("/remote", { filter: () => true }),
    server: { maxFilterSize: 16 },
  });
  await using home = await startNode({ servers: nats.url });
  const peer = await home.connect();
  const refused = await subscribe(peer, 1, 17);
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(refused.responseMessage, /maxFilterSize of 16 bytes/);
  assert.equal(home.server.stats().subscriptions, 0);
});
