import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST, SUBSCRIBE } from "../testing/frames.ts";
import { connect } from "@nats-io/transport-node";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { Gate } from "../testing/gate.ts";
import { waitFor } from "../testing/wait.ts";
import { ForwardSubjects } from "./_forward_subjects.ts";
import { NatsForwarder } from "./nats_forwarder.ts";
import { encodeHeld } from "./_rpc_codec.ts";
import type { Topic } from "../server/mod.ts";
import { meshed, startNode } from "./_testing.ts";

needsNats.test("NatsForwarder: a holder lets go of a subscription whose release was dropped while NATS was down", async () => {
  await using nats = await startNatsServer();
  let quiet: Topic | undefined;
  const fast = {
    reconnectDelay: 20,
    maxReconnectDelay: 20,
    auditInterval: 300,
  };
  await using holder = await startNode({
    servers: nats.url,
    forward: fast,
    setup: (s) => void (quiet = s.topic("/quiet")),
  });
  await using home = await startNode({ servers: nats.url, forward: fast });
  await meshed([holder, home]);
  const client = await home.connect();
  const path = { case: "path" as const, value: "/quiet" };
  await client.send({ requestId: 7, requestType: SUBSCRIBE, pathOneof: path });
  assert.equal((await client.read()).responseStatus, Status.OK);
  assert.equal(quiet!.size, 1);

  await nats.stop();
  await waitFor(() => home.forward.state === "reconnecting", {
    timeout: 5000,
    message: "the home node to notice the outage",
  });
  const dropped = home.forward.stats.droppedBy.disconnected;
  // Unsubscribing answers at once; the release to the holder is dropped.
  await client.send({ requestId: 7, requestType: REQUEST, pathOneof: path });
  assert.equal((await client.read()).responseStatus, Status.OK);
  assert.ok(home.forward.stats.droppedBy.disconnected > dropped);
  assert.equal(quiet!.size, 1);

  await nats.restart();
  // The quiet topic publishes nothing, so no stale update can reveal it:
  // only the holder's list of what it holds does.
  await waitFor(() => quiet!.size === 0, {
    timeout: 8000,
    message: "the holder to let go of the unsubscribed subscription",
  });
  assert.equal(home.forward.stats.staleReleased, 1);
  assert.ok(home.forward.stats.heldLists >= 1);
});

needsNats.test("NatsForwarder: a holder's list of what it holds keeps the subscriptions still in use", async () => {
  await using nats = await startNatsServer();
  let quiet: Topic | undefined;
  await using holder = await startNode({
    servers: nats.url,
    forward: { auditInterval: 300 },
    setup: (s) => void (quiet = s.topic("/quiet")),
  });
  await using home = await startNode({ servers: nats.url });
  await meshed([holder, home]);
  const client = await home.connect();
  await client.send({
    requestId: 3,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/quiet" },
  });
  assert.equal((await client.read()).responseStatus, Status.OK);
  // The holder sends its list every 300 ms.
  const lists = home.forward.stats.heldLists;
  await waitFor(() => home.forward.stats.heldLists >= lists + 2, {
    timeout: 5000,
    message: "two lists of held subscriptions to reach the home node",
  });
  assert.equal(home.forward.stats.staleReleased, 0);
  assert.equal(quiet!.size, 1);
  assert.equal(home.server.stats().subscriptions, 1);
  holder.server.publish("/quiet", new TextEncoder().encode("still here"));
  const update = await client.read();
  assert.equal(update.requestId, 3);
  assert.equal(new TextDecoder().decode(update.data), "still here");
});

needsNats.test("NatsForwarder: a list naming a subscription still waiting for its answer does not release it", async () => {
  await using nats = await startNatsServer();
  let quiet: Topic | undefined;
  const gate = new Gate();
  await using holder = await startNode({
    servers: nats.url,
    forward: { auditInterval: 0 },
    setup: (s) => {
      quiet = s.topic("/quiet");
      s.use((ctx, next) =>
        ctx.kind === "subscribe" ? gate.opened.then(next) : next()
      );
    },
  });
  await using home = await startNode({ servers: nats.url });
  await meshed([holder, home]);
  const [holderId] = home.forward.nodes();
  const [homeId] = holder.forward.nodes();
  const client = await home.connect();
  await client.send({
    requestId: 5,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/quiet" },
  });
  await waitFor(() => home.forward.stats.inflight === 1, {
    message: "the SUBSCRIBE to be forwarded",
  });
  // The home node's first remote subscription has key 1; 99 is no key.
  const nc = await connect({ servers: nats.url });
  try {
    const subject = new ForwardSubjects("nanorpc").node(homeId);
    nc.publish(subject, encodeHeld(holderId, [1]));
    await waitFor(() => home.forward.stats.heldLists === 1, {
      message: "the list to reach the home node",
    });
    assert.equal(home.forward.stats.staleReleased, 0);
    nc.publish(subject, encodeHeld(holderId, [99]));
    await waitFor(() => home.forward.stats.heldLists === 2, {
      message: "the second list to reach the home node",
    });
    assert.equal(home.forward.stats.staleReleased, 1);
  } finally {
    await nc.close();
  }
  gate.open();
  assert.equal((await client.read()).responseStatus, Status.OK);
  assert.equal(quiet!.size, 1);
  holder.server.publish("/quiet", new TextEncoder().encode("delivered"));
  assert.equal(
    new TextDecoder().decode((await client.read()).data),
    "delivered",
  );
});

needsNats.test("NatsForwarder.connect refuses a negative auditInterval", async () => {
  await using nats = await startNatsServer();
  await assert.rejects(
    NatsForwarder.connect({ servers: nats.url, auditInterval: -1 }),
    /auditInterval must be 0 \(never\) or a positive number of ms, not -1/,
  );
});
