// Subscription callbacks against a hand-driven peer: a callback that throws
// never reaches the read path, and callers only see the public surface.

import assert from "node:assert/strict";
import { ConnectionLostError, NotFoundError } from "./errors.ts";
import {
  captureConsole,
  clientWithRawServer,
  RESPONSE,
  UPDATE,
} from "../testing/mod.ts";

type Harness = Awaited<ReturnType<typeof clientWithRawServer>>;

/**
 * The peer acknowledges the client's SUBSCRIBE and sends updates carrying
 * `values` (one byte each), then answers a request on the same connection:
 * the read path went on.
 */
async function ackUpdatesThenAnswer(
  t: Harness,
  values: number[],
): Promise<void> {
  const sub = (await t.session.next())!;
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    ...values.map((i) => ({
      requestId: sub.requestId,
      responseType: UPDATE,
      data: new Uint8Array([i]),
    })),
  );
  const call = t.client.request("/x");
  const request = (await t.session.next())!;
  await t.session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
  });
  await call;
}

Deno.test("Client subscription goes on after its onUpdate callback throws", async () => {
  using logged = captureConsole("error");
  await using t = await clientWithRawServer();
  const seen: number[] = [];
  const subscribing = t.client.subscribe("/t", undefined, {
    onUpdate: (update) => {
      seen.push(update[0]);
      if (update[0] === 1) throw new Error("bug in onUpdate");
    },
  });
  await ackUpdatesThenAnswer(t, [1, 2, 3]);
  const subscription = await subscribing;
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(subscription.state, "active");
  assert.equal(logged.calls.length, 1);
  assert.match(String(logged.calls[0][1]), /bug in onUpdate/);
});

Deno.test("Client survives an onError callback that throws when the connection is lost", async () => {
  using logged = captureConsole("error");
  await using t = await clientWithRawServer({ reconnect: false });
  const subscribing = t.client.subscribe("/t", undefined, {
    onError() {
      throw new Error("bug in onError");
    },
  });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const inFlight = t.client.request("/x");
  await t.session.next();
  t.session.close();
  await assert.rejects(inFlight, ConnectionLostError);
  assert.equal(t.client.state, "closed");
  assert.equal(subscription.state, "closed");
  assert.ok(subscription.error instanceof ConnectionLostError);
  assert.equal(logged.calls.length, 1);
  assert.match(String(logged.calls[0][1]), /bug in onError/);
});

Deno.test("Client keeps the connection when an onError callback throws on a refused resubscribe", async () => {
  using logged = captureConsole("error");
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
  let disconnects = 0;
  const subscribing = t.client.subscribe("/t", undefined, {
    onError() {
      throw new Error("bug in onError");
    },
  });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const next = t.server.accept();
  t.session.close();
  const session = await next;
  t.client.addEventListener("disconnect", () => disconnects++);
  const resub = (await session.next())!;
  const innocent = t.client.request("/innocent");
  const request = (await session.next())!;
  await session.send(
    {
      requestId: resub.requestId,
      responseType: RESPONSE,
      responseStatus: 2,
      responseMessage: "gone",
    },
    { requestId: request.requestId, responseType: RESPONSE },
  );
  await innocent;
  assert.equal(disconnects, 0);
  assert.ok(subscription.error instanceof NotFoundError);
  assert.equal(logged.calls.length, 1);
});

Deno.test("Client subscribe resolves with the public surface of the subscription only", async () => {
  await using t = await clientWithRawServer();
  let given: unknown;
  const subscribing = t.client.subscribe("/t", undefined, {
    onUpdate: (_, subscription) => given = subscription,
  });
  const sub = (await t.session.next())!;
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    { requestId: sub.requestId, responseType: UPDATE },
  );
  const subscription = await subscribing;
  for (const internal of ["finish", "receive", "connected", "acks", "sent"]) {
    assert.equal(internal in subscription, false, internal);
  }
  assert.equal(subscription.id, sub.requestId);
  assert.equal(subscription.path, "/t");
  assert.equal(subscription.state, "active");
  assert.equal(given, subscription);
});

Deno.test("Client subscription goes on after an async onUpdate callback rejects", async () => {
  using logged = captureConsole("error");
  await using t = await clientWithRawServer();
  const seen: number[] = [];
  const subscribing = t.client.subscribe("/t", undefined, {
    onUpdate: async (update) => {
      seen.push(update[0]);
      await Promise.resolve();
      if (update[0] === 1) throw new Error("bug in async onUpdate");
    },
  });
  await ackUpdatesThenAnswer(t, [1, 2]);
  const subscription = await subscribing;
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(seen, [1, 2]);
  assert.equal(subscription.state, "active");
  assert.equal(logged.calls.length, 1);
  assert.match(String(logged.calls[0][1]), /bug in async onUpdate/);
});

Deno.test("Client survives an async onError callback that rejects", async () => {
  using logged = captureConsole("error");
  await using t = await clientWithRawServer({ reconnect: false });
  const subscribing = t.client.subscribe("/t", undefined, {
    onError: async () => {
      await Promise.resolve();
      throw new Error("bug in async onError");
    },
  });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  t.session.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(subscription.state, "closed");
  assert.equal(logged.calls.length, 1);
  assert.match(String(logged.calls[0][1]), /bug in async onError/);
});
