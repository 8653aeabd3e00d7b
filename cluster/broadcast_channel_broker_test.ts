import assert from "node:assert/strict";
import { waitFor } from "../testing/wait.ts";
import { silentLogger } from "../testing/logger.ts";
import { brokerConformance } from "./_broker_conformance.ts";
import type { WorkerCommand } from "./_broadcast_worker.ts";
import {
  BroadcastChannelBroker,
  type BroadcastChannelBrokerStats,
} from "./broadcast_channel_broker.ts";

brokerConformance("BroadcastChannelBroker", () => {
  const name = crypto.randomUUID();
  const publisher = new BroadcastChannelBroker({ name, logger: silentLogger });
  const subscriber = new BroadcastChannelBroker({ name, logger: silentLogger });
  return Promise.resolve({
    publisher,
    subscriber,
    async close() {
      await publisher.close();
      await subscriber.close();
    },
  });
});

Deno.test("BroadcastChannelBroker posts one turn's publishes as one batch", async () => {
  const name = crypto.randomUUID();
  await using a = new BroadcastChannelBroker({ name, logger: silentLogger });
  await using b = new BroadcastChannelBroker({ name, logger: silentLogger });
  const raw = new BroadcastChannel(name);
  let posts = 0;
  raw.onmessage = () => posts++;
  try {
    const got: number[] = [];
    using _ = b.subscribe("topic:/t", (m) => got.push(m.data[0]));
    for (let i = 0; i < 1000; i++) {
      a.publish("topic:/t", { path: "/t", data: new Uint8Array([i & 255]) });
    }
    await waitFor(() => got.length === 1000, {
      timeout: 5000,
      message: "1000 messages",
    });
    assert.equal(posts, 1);
    assert.equal(a.stats.published, 1000);
    assert.equal(b.stats.received, 1000);
    assert.equal(b.stats.delivered, 1000);
  } finally {
    raw.close();
  }
});

Deno.test("BroadcastChannelBroker drops and counts what passes maxBatchBytes in one turn", async () => {
  const name = crypto.randomUUID();
  await using a = new BroadcastChannelBroker({
    name,
    maxBatchBytes: 10_000,
    logger: silentLogger,
  });
  await using b = new BroadcastChannelBroker({ name, logger: silentLogger });
  const got: number[] = [];
  const local: number[] = [];
  using _1 = a.subscribe("topic:/t", (m) => local.push(m.data.length));
  using _2 = b.subscribe("topic:/t", (m) => got.push(m.data.length));
  for (let i = 0; i < 100; i++) {
    a.publish("topic:/t", { path: "/t", data: new Uint8Array(1000) });
  }
  assert.equal(local.length, 100, "local subscribers get every message");
  const dropped = a.stats.droppedBy.backpressure;
  assert.ok(dropped >= 90 && dropped < 100, `${dropped} dropped`);
  await waitFor(() => got.length === 100 - dropped, {
    timeout: 5000,
    message: "the batch",
  });
  // The next turn has a fresh budget.
  a.publish("topic:/t", { path: "/t", data: new Uint8Array(1000) });
  await waitFor(() => got.length === 101 - dropped, {
    timeout: 5000,
    message: "the next turn",
  });
});

Deno.test("BroadcastChannelBroker counts foreign and broken posts as malformed", async () => {
  const name = crypto.randomUUID();
  await using a = new BroadcastChannelBroker({ name, logger: silentLogger });
  await using b = new BroadcastChannelBroker({ name, logger: silentLogger });
  const got: number[] = [];
  using _ = b.subscribe("topic:/t", (m) => got.push(m.data[0]));
  const raw = new BroadcastChannel(name);
  raw.postMessage("hello");
  raw.postMessage({ o: "x", s: 0, n: 2, b: new Uint8Array([1, 0x61, 200]) });
  raw.close();
  a.publish("topic:/t", { path: "/t", data: new Uint8Array([7]) });
  await waitFor(() => got.length === 1, {
    timeout: 5000,
    message: "the valid message",
  });
  assert.equal(b.stats.droppedBy.malformed, 3);
  assert.deepEqual(got, [7]);
});

/** A real Worker running one broker, driven by messages. */
class BrokerWorker {
  #worker = new Worker(new URL("./_broadcast_worker.ts", import.meta.url), {
    type: "module",
  });
  #next = 0;
  #waiting = new Map<number, (result: unknown) => void>();

  constructor() {
    this.#worker.onmessage = (e) => {
      this.#waiting.get(e.data.id)?.(e.data.result);
      this.#waiting.delete(e.data.id);
    };
  }

  send<T = void>(command: WorkerCommand): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve as (result: unknown) => void);
      this.#worker.postMessage({ ...command, id });
    });
  }

  stats() {
    return this.send<
      { stats: BroadcastChannelBrokerStats; got: Record<string, number[]> }
    >({ op: "stats" });
  }

  async stop(): Promise<void> {
    await this.send({ op: "close" });
    this.#worker.terminate();
  }
}

Deno.test("BroadcastChannelBroker shares channels between two real Workers", async () => {
  const name = crypto.randomUUID();
  const a = new BrokerWorker();
  const b = new BrokerWorker();
  try {
    for (const w of [a, b]) {
      await w.send({ op: "open", name });
      await w.send({ op: "subscribe", channel: "topic:/t" });
    }
    await b.send({ op: "subscribe", channel: "uid:alice" });
    await a.send({ op: "publish", channel: "topic:/t", count: 300 });
    await a.send({
      op: "publish",
      channel: "uid:alice",
      count: 2,
      turns: true,
    });
    // b's own publish follows what it got from a (delivery between workers
    // is async; the order checked below is per publisher, then b's own).
    await waitFor(
      async () => (await b.stats()).got["topic:/t"].length === 300,
      { timeout: 5000, message: "b to get a's 300" },
    );
    await b.send({ op: "publish", channel: "topic:/t", count: 1 });
    await waitFor(
      async () => {
        const { got } = await b.stats();
        return got["topic:/t"].length === 301 && got["uid:alice"].length === 2;
      },
      { timeout: 5000, message: "b to get everything" },
    );
    const onB = (await b.stats()).got;
    assert.deepEqual(onB["topic:/t"], [...Array(300).keys(), 0]);
    assert.deepEqual(onB["uid:alice"], [0, 1]);
    await waitFor(
      async () => (await a.stats()).got["topic:/t"].length === 301,
      { timeout: 5000, message: "a" },
    );
    assert.deepEqual((await a.stats()).got["topic:/t"], [
      ...Array(300).keys(),
      0,
    ]);
    assert.equal((await b.stats()).stats.dropped, 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("BroadcastChannelBroker counts what the runtime drops for a worker that falls behind", async () => {
  const name = crypto.randomUUID();
  const a = new BrokerWorker();
  const b = new BrokerWorker();
  try {
    await a.send({ op: "open", name });
    await b.send({ op: "open", name });
    await b.send({ op: "subscribe", channel: "topic:/t" });
    // b hears from a once, so it knows a's sequence numbers.
    await a.send({ op: "publish", channel: "topic:/other", count: 1 });
    await waitFor(async () => (await b.stats()).stats.received === 1);
    const flag = new SharedArrayBuffer(8);
    const view = new Int32Array(flag);
    const blocked = b.send({ op: "block", flag });
    await waitFor(() => Atomics.load(view, 1) === 1, {
      timeout: 5000,
      message: "b to block",
    });
    const n = 1000; // one post per turn: far more than the runtime keeps
    await a.send({ op: "publish", channel: "topic:/t", count: n, turns: true });
    Atomics.store(view, 0, 1);
    await blocked;
    // One more post after the backlog shows b every gap up to n.
    await a.send({ op: "publish", channel: "topic:/other", count: 1 });
    await waitFor(
      async () => {
        const { stats } = await b.stats();
        return stats.received + stats.droppedBy.lost === n + 2;
      },
      { timeout: 5000, message: "every message accounted for" },
    );
    const { stats, got } = await b.stats();
    assert.ok(stats.droppedBy.lost > 0, "the runtime dropped posts");
    assert.equal(got["topic:/t"].length, stats.delivered);
    const seq = got["topic:/t"];
    assert.ok(seq.every((v, i) => i === 0 || v > seq[i - 1]), "in order");
  } finally {
    await a.stop();
    await b.stop();
  }
});
