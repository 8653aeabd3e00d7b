// Subscriptions count toward maxAbandonedRequests, against a hand-driven
// peer that acknowledges nothing unless the test says so: one over for its
// caller while the server still owes it an ack keeps its id held, like a
// call that timed out, and the bound drops the connection to free them.

import assert from "node:assert/strict";
import type { ConnectionEvent } from "./events.ts";
import { TimeoutError } from "./errors.ts";
import {
  clientWithRawServer,
  FakeTime,
  nextEvent,
  REQUEST,
  RESPONSE,
  SUBSCRIBE,
  waitFor,
  within,
} from "../testing/mod.ts";

Deno.test("Client counts subscribes that time out unacknowledged toward maxAbandonedRequests and drops the connection past it", async () => {
  await using t = await clientWithRawServer({
    maxAbandonedRequests: 2,
    reconnect: { initial: 5, max: 5, jitter: 0 },
  });
  using time = new FakeTime();
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  const disconnected = nextEvent<ConnectionEvent>(t.client, "disconnect");
  const timedOut = [1, 2, 3].map((i) =>
    assert.rejects(
      t.client.subscribe(`/stuck${i}`, undefined, { timeout: i * 10 }),
      TimeoutError,
    )
  );
  for (let i = 0; i < 3; i++) {
    assert.equal((await t.session.next())!.requestType, SUBSCRIBE);
  }
  // Two held ids are within the bound: the connection stays.
  await time.tickAsync(20);
  await t.session.sync(t.client);
  assert.equal(disconnects, 0);
  await time.tickAsync(10);
  await within(Promise.all(timedOut), { message: "timeouts" });
  const event = await disconnected;
  assert.match(event.error!.message, /maxAbandonedRequests/);
  await waitFor(() => t.client.state === "waiting");
  const next = t.server.accept();
  await time.tickAsync(5);
  const session = await next;
  const call = t.client.request("/after");
  await session.answer();
  await call;
});

Deno.test("Client frees an abandoned subscription's place once its late acks come, and counts aborted subscribes and timed-out unsubscribes", async () => {
  await using t = await clientWithRawServer({
    maxAbandonedRequests: 1,
    reconnect: false,
  });
  using time = new FakeTime();
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);

  // Timed out, then acknowledged late: its place is free again.
  const late = t.client.subscribe("/late", undefined, { timeout: 10 });
  const subscribe = (await t.session.next())!;
  await time.tickAsync(10);
  await assert.rejects(late, TimeoutError);
  const unsubscribe = (await t.session.next())!;
  assert.equal(unsubscribe.requestType, REQUEST);
  assert.equal(unsubscribe.requestId, subscribe.requestId);
  await t.session.send(
    { requestId: subscribe.requestId, responseType: RESPONSE },
    { requestId: subscribe.requestId, responseType: RESPONSE },
  );
  await t.session.sync(t.client);

  // Aborted with no time limit: given up, so counted at once (1 of 1).
  const controller = new AbortController();
  const aborted = t.client.subscribe("/aborted", undefined, {
    timeout: 0,
    signal: controller.signal,
  });
  const held = (await t.session.next())!;
  controller.abort(new Error("changed my mind"));
  await assert.rejects(aborted, /changed my mind/);
  assert.equal((await t.session.next())!.requestId, held.requestId);
  await t.session.sync(t.client);
  assert.equal(disconnects, 0);

  // An unsubscribe whose ack does not come in time: one too many.
  const subscribing = t.client.subscribe("/kept", undefined, { timeout: 10 });
  const kept = (await t.session.next())!;
  await t.session.send({ requestId: kept.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const disconnected = nextEvent<ConnectionEvent>(t.client, "disconnect");
  const unsubscribing = assert.rejects(
    subscription.unsubscribe(),
    TimeoutError,
  );
  await t.session.next();
  await time.tickAsync(10);
  await unsubscribing;
  const event = await disconnected;
  assert.match(event.error!.message, /maxAbandonedRequests/);
  assert.equal(disconnects, 1);
});
