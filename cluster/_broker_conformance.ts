/**
 * What every {@link Broker} must do, as tests any broker's test file runs:
 * `brokerConformance("NatsBroker", openPair)`. A pair is two brokers that
 * share channels (two nodes on one NATS server, two `BroadcastChannel`
 * brokers, or one in-process broker twice); messages go from `publisher`
 * to `subscriber`, so delivery across the link is what is checked.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Broker, BrokerMessage } from "../server/broker.ts";
import { captureConsole } from "../testing/logger.ts";
import { waitFor } from "../testing/wait.ts";

/** Two brokers sharing channels, and how to let subscriptions settle. */
export interface BrokerPair {
  /** Where messages are published. */
  publisher: Broker;
  /** Where they are subscribed; may be `publisher` itself. */
  subscriber: Broker;
  /**
   * Resolves once subscriptions made so far reach the publisher (a NATS
   * flush); omit when subscribing takes effect at once.
   */
  settle?(): Promise<void>;
  /** Closes both brokers and whatever the pair runs. */
  close(): Promise<void>;
}

/** Options of {@link brokerConformance}. */
export interface ConformanceOptions {
  /** Milliseconds to wait for a delivery; 10000 by default. */
  timeout?: number;
  /** Registers the tests as ignored (e.g. nats-server is missing); false. */
  ignore?: boolean;
}

const bytes = (...b: number[]) => new Uint8Array(b);

function collect(broker: Broker, channel: string) {
  const got: BrokerMessage[] = [];
  const sub = broker.subscribe(channel, (m) => got.push(m));
  return { got, sub };
}

/**
 * Registers the conformance tests for one kind of broker.
 *
 * @param name The broker's name, the first word of each test's name.
 * @param open Opens a fresh pair for each test.
 * @param options The delivery timeout, and whether to ignore the tests.
 */
export function brokerConformance(
  name: string,
  open: () => Promise<BrokerPair>,
  options: ConformanceOptions = {},
): void {
  const timeout = options.timeout ?? 10_000;
  const test = (what: string, fn: (pair: BrokerPair) => Promise<void>) =>
    (options.ignore ? Deno.test.ignore : Deno.test)(
      `${name} ${what}`,
      async () => {
        const pair = await open();
        try {
          await fn(pair);
        } finally {
          await pair.close();
        }
      },
    );

  test("delivers a channel's messages in publish order", async (pair) => {
    const { got, sub } = collect(pair.subscriber, "topic:/order");
    await pair.settle?.();
    const n = 500;
    for (let i = 0; i < n; i++) {
      pair.publisher.publish("topic:/order", {
        path: "/order",
        data: bytes(i >> 8, i & 255),
      });
    }
    await waitFor(() => got.length >= n, {
      timeout: timeout,
      message: `${n} messages`,
    });
    assert.deepEqual(
      got.map((m) => (m.data[0] << 8) | m.data[1]),
      [...Array(n).keys()],
    );
    sub[Symbol.dispose]();
  });

  test("delivers to subscribers on the publishing broker too", async (pair) => {
    const { got, sub } = collect(pair.publisher, "topic:/local");
    pair.publisher.publish("topic:/local", { path: "/local", data: bytes(1) });
    await waitFor(() => got.length === 1, {
      timeout: timeout,
      message: "the local delivery",
    });
    assert.deepEqual(got[0].data, bytes(1));
    sub[Symbol.dispose]();
  });

  test("delivers each message once to every subscriber of its channel only", async (pair) => {
    const a = collect(pair.subscriber, "group:g");
    const b = collect(pair.subscriber, "group:g");
    const other = collect(pair.subscriber, "group:other");
    await pair.settle?.();
    pair.publisher.publish("group:g", { path: "/p", data: bytes(7) });
    pair.publisher.publish("group:g", { path: "/p", data: bytes(8) });
    await waitFor(
      () => a.got.length >= 2 && b.got.length >= 2,
      { timeout: timeout, message: "both subscribers" },
    );
    assert.deepEqual(a.got.map((m) => m.data[0]), [7, 8]);
    assert.deepEqual(b.got.map((m) => m.data[0]), [7, 8]);
    assert.equal(other.got.length, 0);
    for (const s of [a, b, other]) s.sub[Symbol.dispose]();
  });

  test("still delivers to the other subscribers when one throws", async (pair) => {
    using _quiet = captureConsole("error");
    const thrower = pair.subscriber.subscribe("topic:/boom", () => {
      throw new Error("subscriber bug");
    });
    const after = collect(pair.subscriber, "topic:/boom");
    await pair.settle?.();
    pair.publisher.publish("topic:/boom", { path: "/boom", data: bytes(1) });
    pair.publisher.publish("topic:/boom", { path: "/boom", data: bytes(2) });
    await waitFor(() => after.got.length === 2, {
      timeout: timeout,
      message: "the subscriber after the one that throws",
    });
    thrower[Symbol.dispose]();
    after.sub[Symbol.dispose]();
  });

  test("stops delivering to a disposed subscription", async (pair) => {
    const gone = collect(pair.subscriber, "uid:alice");
    const stays = collect(pair.subscriber, "uid:alice");
    await pair.settle?.();
    gone.sub[Symbol.dispose]();
    gone.sub[Symbol.dispose]();
    pair.publisher.publish("uid:alice", { path: "/p", data: bytes(1) });
    await waitFor(
      () => stays.got.length === 1,
      { timeout: timeout, message: "the subscriber left" },
    );
    assert.equal(gone.got.length, 0);
    stays.sub[Symbol.dispose]();
    // The channel has no subscriber now; a new one gets later messages.
    const again = collect(pair.subscriber, "uid:alice");
    await pair.settle?.();
    pair.publisher.publish("uid:alice", { path: "/p", data: bytes(2) });
    await waitFor(
      () => again.got.length === 1,
      { timeout: timeout, message: "the new subscriber" },
    );
    assert.equal(stays.got.length, 1);
    again.sub[Symbol.dispose]();
  });

  test("carries every message field and empty and 1 MiB data intact", async (pair) => {
    const { got, sub } = collect(pair.subscriber, "group:fields");
    await pair.settle?.();
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131) & 255;
    const full: BrokerMessage = {
      path: "/room/ü.*>",
      data: bytes(0, 255, 10),
      uids: ["alice", "bob"],
      sessions: [1, 2, 2 ** 40],
      origin: "node-a",
      kick: "bye",
    };
    const sent = [
      { path: "/empty", data: new Uint8Array() },
      { path: "/big", data: big },
      full,
    ];
    for (const m of sent) pair.publisher.publish("group:fields", m);
    await waitFor(() => got.length >= 3, {
      timeout: timeout,
      message: "three messages",
    });
    assert.equal(got[0].data.length, 0);
    assert.equal(got[1].data.length, big.length);
    assert.ok(got[1].data.every((b, i) => b === big[i]), "1 MiB intact");
    assert.deepEqual({ ...got[2], data: [...got[2].data] }, {
      ...full,
      data: [...full.data],
    });
    sub[Symbol.dispose]();
  });

  test("drops and counts publishes after close", async (pair) => {
    const before = pair.publisher.dropped;
    await pair.publisher.close();
    await pair.publisher.close();
    pair.publisher.publish("topic:/late", { path: "/late", data: bytes(1) });
    pair.publisher.publish("topic:/late", { path: "/late", data: bytes(2) });
    assert.equal(pair.publisher.dropped - before, 2);
  });
}
