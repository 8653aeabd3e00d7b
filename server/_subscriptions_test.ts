import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import { NotAuthorizedError } from "../protocol/errors.ts";
import {
  decodeFrames,
  MemoryStream,
  silentLogger,
  UPDATE,
  waitFor,
  within,
} from "../testing/mod.ts";
import { Server } from "./server.ts";
import type { ServerSession } from "./_session.ts";
import { newStats } from "./stats.ts";
import { SubscriptionRegistry } from "./_subscriptions.ts";
import type { TopicImpl } from "./_topic.ts";

const EMPTY = new Uint8Array();

/** A server with topics /a and /b, and one session it serves in memory. */
async function fixture() {
  const server = new Server({ logger: silentLogger });
  const a = server.topic("/a") as TopicImpl;
  const b = server.topic<Uint8Array, Uint8Array>("/b", {
    filter: (filter, update) => filter[0] === update[0],
  }) as TopicImpl;
  const stream = new MemoryStream();
  const serving = server.serve(stream);
  await waitFor(() => server.sessions.size === 1, {
    message: "the session to open",
  });
  const session = server.sessions.values().next().value as ServerSession;
  return {
    a,
    b,
    session,
    stream,
    async [Symbol.asyncDispose]() {
      stream.end();
      await within(serving, { message: "the session to end" });
      await server.shutdown();
    },
  };
}

Deno.test("SubscriptionRegistry attaches, finds and removes subscriptions, keeping the count", async () => {
  await using f = await fixture();
  const stats = newStats();
  const registry = new SubscriptionRegistry(stats, 10);
  const one = f.a.prepare(f.session, 1, EMPTY);
  const two = f.b.prepare(f.session, 2, new Uint8Array([7]));
  registry.add(one);
  registry.add(two);
  assert.equal(registry.size, 2);
  assert.equal(stats.subscriptions, 2);
  assert.equal(registry.get(1), one);
  assert.equal(registry.get(2), two);
  assert.equal(registry.get(3), undefined);
  assert.deepEqual([f.a.size, f.b.size], [1, 1]);

  registry.remove(one);
  registry.remove(one);
  assert.equal(registry.size, 1);
  assert.equal(stats.subscriptions, 1);
  assert.equal(registry.get(1), undefined);
  assert.deepEqual([f.a.size, f.b.size], [0, 1]);
});

Deno.test("SubscriptionRegistry refuses a new id past its limit and lets a live id through", async () => {
  await using f = await fixture();
  const stats = newStats();
  const registry = new SubscriptionRegistry(stats, 2);
  registry.add(f.a.prepare(f.session, 1, EMPTY));
  registry.add(f.a.prepare(f.session, 2, EMPTY));
  const refused = (err: unknown) => {
    assert.ok(err instanceof NotAuthorizedError);
    assert.equal(
      err.message,
      "Subscription limit of 2 per session reached: unsubscribe first",
    );
    return true;
  };
  assert.throws(() => registry.checkLimit(3), refused);
  assert.throws(() => registry.add(f.b.prepare(f.session, 3, EMPTY)), refused);
  assert.equal(registry.size, 2);
  assert.equal(stats.subscriptions, 2);
  assert.equal(f.b.size, 0, "a refused subscription was attached");
  // Subscribing again with a live id replaces, so it is within the limit.
  registry.checkLimit(2);
  registry.add(f.b.prepare(f.session, 2, EMPTY));
  assert.equal(registry.size, 2);
});

Deno.test("SubscriptionRegistry replaces the subscription with the same id", async () => {
  await using f = await fixture();
  const stats = newStats();
  const registry = new SubscriptionRegistry(stats, 10);
  const old = f.a.prepare(f.session, 5, EMPTY);
  const replacement = f.b.prepare(f.session, 5, EMPTY);
  registry.add(old);
  registry.add(replacement);
  assert.equal(registry.size, 1);
  assert.equal(stats.subscriptions, 1);
  assert.equal(registry.get(5), replacement);
  assert.deepEqual(
    [f.a.size, f.b.size],
    [0, 1],
    "the old one still gets updates",
  );
  // The replaced subscription is gone: removing it changes nothing.
  registry.remove(old);
  assert.equal(registry.get(5), replacement);
  assert.equal(stats.subscriptions, 1);
});

Deno.test("SubscriptionRegistry.clear detaches everything and subtracts only its own count", async () => {
  await using f = await fixture();
  const stats = newStats();
  stats.subscriptions = 40; // Other sessions' subscriptions.
  const registry = new SubscriptionRegistry(stats, 10);
  for (let id = 1; id <= 3; id++) {
    registry.add(f.a.prepare(f.session, id, EMPTY));
  }
  registry.add(f.b.prepare(f.session, 4, EMPTY));
  assert.equal(stats.subscriptions, 44);
  registry.clear();
  assert.equal(registry.size, 0);
  assert.equal(stats.subscriptions, 40);
  assert.deepEqual([f.a.size, f.b.size], [0, 0]);
  registry.clear();
  assert.equal(stats.subscriptions, 40);
  // Empty registries clear too.
  new SubscriptionRegistry(stats, 10).clear();
  assert.equal(stats.subscriptions, 40);
});

Deno.test("SubscriptionRegistry.push sends an UPDATE to each subscription to the path its filter accepts", async () => {
  await using f = await fixture();
  const registry = new SubscriptionRegistry(newStats(), 10);
  assert.equal(registry.push("/a", new Uint8Array([1])), 0, "nothing yet");
  registry.add(f.a.prepare(f.session, 1, EMPTY));
  registry.add(f.a.prepare(f.session, 2, EMPTY));
  registry.add(f.b.prepare(f.session, 3, new Uint8Array([7])));
  registry.add(f.b.prepare(f.session, 4, new Uint8Array([8])));
  assert.equal(registry.push("/a", new Uint8Array([1])), 2);
  assert.equal(registry.push("/b", new Uint8Array([7])), 1);
  assert.equal(registry.push("/c", new Uint8Array([7])), 0);
  await waitFor(() => f.stream.writes.length > 0, { message: "a write" });
  const updates = decodeFrames(NanoRPCResponseSchema, f.stream.written);
  assert.deepEqual(
    updates.map((u) => [u.requestId, u.responseType, [...u.data]]),
    [[1, UPDATE, [1]], [2, UPDATE, [1]], [3, UPDATE, [7]]],
  );
});
