import assert from "node:assert/strict";
import { natsSkipReason, needsNats, startNatsServer } from "../testing/nats.ts";
import { waitFor } from "../testing/wait.ts";
import { connect } from "@nats-io/transport-node";
import { recordingLogger } from "../testing/logger.ts";
import { brokerConformance } from "./_broker_conformance.ts";
import { NatsBroker } from "./nats_broker.ts";
import type { NatsBrokerOptions } from "./nats_broker_options.ts";

async function twoNodes(options: Partial<NatsBrokerOptions> = {}) {
  const nats = await startNatsServer();
  const logger = recordingLogger();
  const connectNode = (name: string) =>
    NatsBroker.connect({ servers: nats.url, name, logger, ...options });
  const a = await connectNode("a");
  const b = await connectNode("b");
  return {
    nats,
    a,
    b,
    logger,
    async close() {
      await a.close();
      await b.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

brokerConformance("NatsBroker", async () => {
  const nodes = await twoNodes();
  return {
    publisher: nodes.a,
    subscriber: nodes.b,
    settle: () => nodes.b.flush(),
    close: () => nodes.close(),
  };
}, { ignore: natsSkipReason() !== undefined });

const data = (...b: number[]) => new Uint8Array(b);

needsNats.test("NatsBroker carries topic, group and uid messages between two nodes", async () => {
  const { a, b, close } = await twoNodes();
  try {
    const onA: string[] = [];
    const onB: string[] = [];
    const note = (into: string[], tag: string) => (m: { data: Uint8Array }) =>
      into.push(`${tag}${m.data[0]}`);
    using _1 = a.subscribe("topic:/room/messages", note(onA, "topic"));
    using _2 = b.subscribe("topic:/room/messages", note(onB, "topic"));
    using _3 = b.subscribe("group:room-1", note(onB, "group"));
    using _4 = a.subscribe("uid:alice", note(onA, "uid"));
    await Promise.all([a.flush(), b.flush()]);
    a.publish("topic:/room/messages", {
      path: "/room/messages",
      data: data(1),
    });
    a.publish("group:room-1", { path: "/room/messages", data: data(2) });
    b.publish("uid:alice", { path: "/room/messages", data: data(3) });
    b.publish("topic:/room/messages", {
      path: "/room/messages",
      data: data(4),
    });
    await waitFor(
      () => onA.length >= 3 && onB.length >= 3,
      { timeout: 5000, message: "deliveries" },
    );
    await Promise.all([a.flush(), b.flush()]);
    // Each node hears its own publishes once (locally), not again from NATS.
    assert.deepEqual(onA.sort(), ["topic1", "topic4", "uid3"]);
    assert.deepEqual(onB.sort(), ["group2", "topic1", "topic4"]);
    assert.equal(a.stats.published, 2);
    assert.equal(b.stats.received, 2);
    assert.equal(b.stats.delivered, 2);
    assert.equal(a.dropped + b.dropped, 0);
  } finally {
    await close();
  }
});

needsNats.test("NatsBroker keeps other subscribers going when one throws", async () => {
  const { a, b, logger, close } = await twoNodes();
  try {
    const got: number[] = [];
    using _1 = b.subscribe("topic:/t", () => {
      throw new Error("subscriber bug");
    });
    using _2 = b.subscribe("topic:/t", (m) => got.push(m.data[0]));
    await b.flush();
    a.publish("topic:/t", { path: "/t", data: data(1) });
    a.publish("topic:/t", { path: "/t", data: data(2) });
    await waitFor(() => got.length === 2, {
      timeout: 5000,
      message: "both messages",
    });
    assert.ok(logger.lines.some((l) => l.includes("subscriber bug")));
  } finally {
    await close();
  }
});

needsNats.test("NatsBroker drops publishes while NATS is down, delivers locally, and resumes after a restart", async () => {
  const { nats, a, b, close } = await twoNodes({
    maxUnflushedBytes: 64 * 1024,
  });
  try {
    const events: string[] = [];
    const watching = (async () => {
      for await (const e of a.events()) events.push(e.type);
    })();
    const local: number[] = [];
    const remote: number[] = [];
    using _1 = a.subscribe("topic:/t", (m) => local.push(m.data[0]));
    using _2 = b.subscribe("topic:/t", (m) => remote.push(m.data[0]));
    await b.flush();
    await nats.stop("SIGKILL");
    await waitFor(
      () => a.state === "reconnecting",
      { timeout: 10_000, message: "a to see NATS go" },
    );
    const published = a.stats.published;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      a.publish("topic:/t", { path: "/t", data: new Uint8Array(256).fill(1) });
    }
    assert.equal(local.length, n, "local subscribers got every message");
    assert.equal(a.stats.droppedBy.disconnected, n);
    assert.equal(a.stats.published, published, "nothing handed to nats.js");
    assert.ok(a.stats.unflushedBytes <= 64 * 1024);

    const restarted = performance.now();
    await nats.restart();
    // Publish until b hears one: both links and b's subscription are back.
    let tries = 0;
    await waitFor(
      () => {
        if (a.state === "connected") {
          a.publish("topic:/t", { path: "/t", data: data(2) });
          tries++;
        }
        return remote.includes(2);
      },
      { timeout: 20_000, message: "delivery after NATS restarted" },
    );
    const seconds = (performance.now() - restarted) / 1000;
    assert.ok(seconds < 20, `resumed after ${seconds} s`);
    assert.ok(tries >= 1);
    assert.ok(a.stats.reconnects >= 1 && b.stats.reconnects >= 1);
    await a.close();
    await watching;
    assert.deepEqual(
      events.filter((t) => t !== "reconnecting" && t !== "dropping"),
      ["disconnected", "reconnected", "closed"],
    );
  } finally {
    await close();
  }
});

needsNats.test("NatsBroker drops and counts what overflows a slow subscriber's buffer", async () => {
  const { a, b, close } = await twoNodes({ maxPending: 100 });
  try {
    let delivered = 0;
    let mostPending = 0;
    using _ = b.subscribe("topic:/burst", () => {
      mostPending = Math.max(mostPending, b.stats.pending);
      const until = performance.now() + 0.2;
      while (performance.now() < until) { /* a slow subscriber */ }
      delivered++;
    });
    await b.flush();
    const n = 3000;
    for (let i = 0; i < n; i++) {
      a.publish("topic:/burst", { path: "/burst", data: data(i & 255) });
    }
    await a.flush();
    await waitFor(
      () => b.stats.received === n && b.stats.pending === 0,
      { timeout: 20_000, message: "the burst to arrive and drain" },
    );
    const dropped = b.stats.droppedBy.slowConsumer;
    assert.ok(dropped > 0, "the burst overflowed the buffer");
    assert.equal(delivered + dropped, n);
    assert.equal(b.stats.delivered, delivered);
    assert.ok(mostPending <= 100, `${mostPending} waited`);
  } finally {
    await close();
  }
});

needsNats.test("NatsBroker drops and counts malformed envelopes from a peer", async () => {
  const { nats, a, b, logger, close } = await twoNodes();
  const rogue = await connect({ servers: nats.url });
  try {
    const got: number[] = [];
    using _ = b.subscribe("topic:/t", (m) => got.push(m.data[0]));
    await b.flush();
    rogue.publish("nanorpc.topic./t", new Uint8Array([99, 0, 0]));
    rogue.publish("nanorpc.topic./t", new Uint8Array());
    await rogue.flush();
    a.publish("topic:/t", { path: "/t", data: data(5) });
    await waitFor(() => got.length === 1, {
      timeout: 5000,
      message: "the valid message",
    });
    assert.deepEqual(got, [5]);
    assert.equal(b.stats.droppedBy.malformed, 2);
    assert.equal(b.stats.received, 1);
    assert.ok(
      logger.lines.some((l) =>
        /malformed.*same nanorpc version|nanorpc version/.test(l)
      ),
    );
  } finally {
    await rogue.close();
    await close();
  }
});

needsNats.test("NatsBroker drops and counts messages over the server's max_payload", async () => {
  await using nats = await startNatsServer({ maxPayload: 1024 });
  const logger = recordingLogger();
  await using a = await NatsBroker.connect({ servers: nats.url, logger });
  assert.ok(logger.lines.some((l) => l.includes("max_payload is 1024 bytes")));
  const got: number[] = [];
  using _ = a.subscribe("topic:/big", (m) => got.push(m.data.length));
  a.publish("topic:/big", { path: "/big", data: new Uint8Array(2000) });
  a.publish("topic:/big", { path: "/big", data: new Uint8Array(10) });
  assert.deepEqual(got, [2000, 10], "local subscribers get both");
  assert.equal(a.stats.droppedBy.tooLarge, 1);
  assert.equal(a.stats.published, 1);
});

needsNats.test("NatsBroker caps the bytes NATS has not confirmed yet", async () => {
  const { a, close } = await twoNodes({ maxUnflushedBytes: 10_000 });
  try {
    const size = 1000;
    for (let i = 0; i < 100; i++) {
      a.publish("topic:/t", { path: "/t", data: new Uint8Array(size) });
    }
    const { published, droppedBy, unflushedBytes } = a.stats;
    assert.ok(published >= 9 && published < 11, `${published} published`);
    assert.equal(droppedBy.backpressure, 100 - published);
    assert.ok(unflushedBytes <= 10_000);
    await waitFor(() => a.stats.unflushedBytes === 0, {
      timeout: 5000,
      message: "confirmation",
    });
    a.publish("topic:/t", { path: "/t", data: new Uint8Array(size) });
    assert.equal(a.stats.published, published + 1);
  } finally {
    await close();
  }
});

Deno.test("NatsBroker.connect fails with advice when no NATS server answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    () => NatsBroker.connect({ servers: `nats://127.0.0.1:${port}` }),
    /Cannot connect to NATS at .*Start nats-server there or pass the right URL/,
  );
});

Deno.test("NatsBroker.connect rejects an invalid subject prefix or bound", async () => {
  await assert.rejects(
    () => NatsBroker.connect({ servers: "nats://127.0.0.1:1", prefix: "a b" }),
    TypeError,
  );
  await assert.rejects(
    () =>
      NatsBroker.connect({ servers: "nats://127.0.0.1:1", reconnectDelay: 0 }),
    RangeError,
  );
});

needsNats.test("NatsBroker uses the subject prefix so clusters can share a server", async () => {
  const nats = await startNatsServer();
  const logger = recordingLogger();
  const blue = await NatsBroker.connect({
    servers: nats.url,
    prefix: "blue",
    logger,
  });
  const green = await NatsBroker.connect({
    servers: nats.url,
    prefix: "green",
    logger,
  });
  const blue2 = await NatsBroker.connect({
    servers: nats.url,
    prefix: "blue",
    logger,
  });
  try {
    const onGreen: number[] = [];
    const onBlue2: number[] = [];
    using _1 = green.subscribe("topic:/t", (m) => onGreen.push(m.data[0]));
    using _2 = blue2.subscribe("topic:/t", (m) => onBlue2.push(m.data[0]));
    await Promise.all([green.flush(), blue2.flush()]);
    blue.publish("topic:/t", { path: "/t", data: data(1) });
    await waitFor(() => onBlue2.length === 1, {
      timeout: 5000,
      message: "the same cluster",
    });
    await blue.flush();
    await green.flush();
    assert.equal(onGreen.length, 0);
  } finally {
    await blue.close();
    await green.close();
    await blue2.close();
    await nats[Symbol.asyncDispose]();
  }
});

needsNats.test("NatsBroker bounds publishes while NATS hangs, then recovers", async () => {
  const { nats, a, b, close } = await twoNodes({
    maxUnflushedBytes: 64 * 1024,
  });
  try {
    const remote: number[] = [];
    using _ = b.subscribe("topic:/t", (m) => remote.push(m.data[0]));
    await b.flush();
    await nats.freeze();
    // Publish in rounds across turns of the event loop, as a busy node would.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 400; i++) {
        a.publish("topic:/t", { path: "/t", data: new Uint8Array(256) });
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const { published, droppedBy, unflushedBytes } = a.stats;
    assert.ok(unflushedBytes <= 64 * 1024, `${unflushedBytes} unconfirmed`);
    assert.ok(published * 262 <= 2 * 64 * 1024, `${published} handed to NATS`);
    assert.equal(
      droppedBy.backpressure + droppedBy.disconnected + published,
      20_000,
    );
    nats.thaw();
    await waitFor(
      () => {
        if (a.state === "connected") {
          a.publish("topic:/t", { path: "/t", data: data(9) });
        }
        return remote.includes(9);
      },
      { timeout: 20_000, message: "delivery after NATS thawed" },
    );
  } finally {
    nats.thaw();
    await close();
  }
});
