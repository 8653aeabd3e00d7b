// Subscriptions against a hand-driven peer: the unsubscribe handshake, acks
// told apart, the bounded buffer, callbacks and errors.

import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { NotFoundError, TimeoutError } from "./errors.ts";
import {
  clientWithRawServer,
  FakeTime,
  PONG,
  REQUEST,
  RESPONSE,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";

const enc = new TextEncoder();

Deno.test("Client unsubscribe follows the protocol and discards updates before its ack", async () => {
  await using t = await clientWithRawServer();
  const subscribing = t.client.subscribe("/t", enc.encode("f"));
  const sub = (await t.session.next())!;
  assert.equal(sub.requestType, SUBSCRIBE);
  assert.deepEqual(sub.data, enc.encode("f"));
  // The subscribe ack, then two updates in the same write.
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    { requestId: sub.requestId, responseType: UPDATE, data: enc.encode("u1") },
    { requestId: sub.requestId, responseType: UPDATE, data: enc.encode("u2") },
  );
  const subscription = await subscribing;
  const it = subscription[Symbol.asyncIterator]();
  assert.deepEqual((await it.next()).value, enc.encode("u1"));

  const unsubscribing = subscription.unsubscribe();
  assert.equal(subscription.state, "unsubscribing");
  const unsub = (await t.session.next())!;
  assert.equal(unsub.requestType, REQUEST);
  assert.equal(unsub.requestId, sub.requestId);
  assert.deepEqual(unsub.pathOneof, { case: "path", value: "/t" });
  assert.equal(unsub.data.length, 0);
  // Updates racing the unsubscribe, then its ack, then a stray update.
  let settled = false;
  unsubscribing.then(() => settled = true);
  await t.session.send(
    { requestId: sub.requestId, responseType: UPDATE, data: enc.encode("u3") },
    { requestId: sub.requestId, responseType: UPDATE, data: enc.encode("u4") },
  );
  await t.session.sync(t.client);
  assert.equal(settled, false, "unsubscribe waits for its ack");
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    { requestId: sub.requestId, responseType: UPDATE, data: enc.encode("u5") },
  );
  await unsubscribing;
  assert.equal(subscription.state, "closed");
  assert.equal(subscription.discarded, 2);
  // u2 arrived before unsubscribe() and is still yielded; then the end.
  assert.deepEqual((await it.next()).value, enc.encode("u2"));
  assert.equal((await it.next()).done, true);
});

Deno.test("Client tells the subscribe ack from the unsubscribe ack when both are pending", async () => {
  await using t = await clientWithRawServer();
  const controller = new AbortController();
  const subscribing = t.client.subscribe("/t", undefined, {
    signal: controller.signal,
  });
  const sub = (await t.session.next())!;
  // Abort before the subscribe ack: the client unsubscribes right away.
  controller.abort(new Error("changed my mind"));
  await assert.rejects(subscribing, /changed my mind/);
  const unsub = (await t.session.next())!;
  assert.equal(unsub.requestId, sub.requestId);
  assert.equal(unsub.requestType, REQUEST);
  // First RESPONSE: the subscribe's ack; the id stays held.
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const other = t.client.request("/x");
  const r = (await t.session.next())!;
  assert.notEqual(r.requestId, sub.requestId);
  // Second RESPONSE: the unsubscribe's ack; now the id is free.
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    { requestId: r.requestId, responseType: RESPONSE },
  );
  await other;
});

Deno.test("Client subscription drops the oldest update when its buffer is full", async () => {
  await using t = await clientWithRawServer();
  const subscribing = t.client.subscribe("/t", undefined, { bufferSize: 3 });
  const sub = (await t.session.next())!;
  const frames = [{ requestId: sub.requestId, responseType: RESPONSE }];
  for (let i = 0; i < 10; i++) {
    frames.push(
      {
        requestId: sub.requestId,
        responseType: UPDATE,
        data: new Uint8Array([i]),
      } as never,
    );
  }
  await t.session.send(...frames);
  const subscription = await subscribing;
  await t.session.sync(t.client);
  assert.equal(subscription.dropped, 7);
  const got = [];
  for await (const update of subscription) {
    got.push(update[0]);
    if (got.length === 3) break;
  }
  assert.deepEqual(got, [7, 8, 9]);
  // Breaking out of the loop unsubscribed.
  const unsub = (await t.session.next())!;
  assert.equal(unsub.requestId, sub.requestId);
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
});

Deno.test("Client subscription delivers to onUpdate and rejects a refused subscribe", async () => {
  await using t = await clientWithRawServer();
  const seen: number[] = [];
  const subscribing = t.client.subscribe("/t", undefined, {
    onUpdate: (u) => seen.push(u[0]),
  });
  const sub = (await t.session.next())!;
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    {
      requestId: sub.requestId,
      responseType: UPDATE,
      data: new Uint8Array([1]),
    },
    {
      requestId: sub.requestId,
      responseType: UPDATE,
      data: new Uint8Array([2]),
    },
  );
  await subscribing;
  await t.session.sync(t.client);
  assert.deepEqual(seen, [1, 2]);
  const refused = t.client.subscribe("/nope");
  const bad = (await t.session.next())!;
  await t.session.send({
    requestId: bad.requestId,
    responseType: RESPONSE,
    responseStatus: 2,
    responseMessage: "No topic at /nope",
  });
  await assert.rejects(refused, NotFoundError);
});
Deno.test("Client subscription ends with the error when the server refuses the resubscribe", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
  const errors: Error[] = [];
  const subscribing = t.client.subscribe("/t", undefined, {
    onError: (e) => errors.push(e),
  });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const iteration = subscription[Symbol.asyncIterator]().next();
  const next = t.server.accept();
  t.session.close();
  const session = await next;
  const resub = (await session.next())!;
  await session.send({
    requestId: resub.requestId,
    responseType: RESPONSE,
    responseStatus: 2,
    responseMessage: "No topic at /t",
  });
  await assert.rejects(iteration, NotFoundError);
  assert.equal(subscription.state, "closed");
  assert.equal(errors.length, 1);
  assert.ok(subscription.error instanceof NotFoundError);
});

Deno.test("Client typed subscription ends and unsubscribes on an update that does not decode", async () => {
  await using t = await clientWithRawServer();
  const subscribing = t.client.subscribe("/t", undefined, {
    output: ChatMessageSchema,
  });
  const sub = (await t.session.next())!;
  await t.session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    {
      requestId: sub.requestId,
      responseType: UPDATE,
      data: toBinary(
        ChatMessageSchema,
        create(ChatMessageSchema, { from: "a", text: "ok" }),
      ),
    },
    // Field 2 (a string) claiming 5 bytes, with 1 present.
    {
      requestId: sub.requestId,
      responseType: UPDATE,
      data: new Uint8Array([0x12, 5, 1]),
    },
  );
  const subscription = await subscribing;
  const it = subscription[Symbol.asyncIterator]();
  assert.equal((await it.next()).value!.text, "ok");
  await assert.rejects(
    it.next(),
    /does not decode as nanorpc_demo\.ChatMessage/,
  );
  const unsub = (await t.session.next())!;
  assert.equal(unsub.requestId, sub.requestId);
  assert.equal(unsub.requestType, REQUEST);
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  await waitFor(() => subscription.state === "closed");
});

Deno.test("Client subscription takes only a RESPONSE as its ack", async () => {
  await using t = await clientWithRawServer();
  const subscribing = t.client.subscribe("/t");
  let settled = false;
  subscribing.then(() => settled = true, () => settled = true);
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: PONG });
  await t.session.sync(t.client);
  assert.equal(settled, false);
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  assert.equal((await subscribing).state, "active");
});

Deno.test("Client unsubscribe rejects with a non-OK ack's status and still ends the subscription", async () => {
  await using t = await clientWithRawServer();
  const subscribing = t.client.subscribe("/t");
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const it = subscription[Symbol.asyncIterator]();
  const unsubscribing = subscription.unsubscribe();
  await t.session.next();
  await t.session.send({
    requestId: sub.requestId,
    responseType: RESPONSE,
    responseStatus: 2,
    responseMessage: "No subscription 1",
  });
  await assert.rejects(unsubscribing, NotFoundError);
  assert.equal(subscription.state, "closed");
  assert.equal(subscription.error, undefined);
  assert.equal((await it.next()).done, true);
});

Deno.test("Client unsubscribe that times out leaves the subscription closed", async () => {
  await using t = await clientWithRawServer();
  using time = new FakeTime();
  const subscribing = t.client.subscribe("/t", undefined, { timeout: 20 });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const unsubscribing = subscription.unsubscribe();
  let settled = false;
  unsubscribing.catch(() => settled = true);
  await t.session.next();
  await time.tickAsync(19);
  assert.equal(settled, false);
  assert.equal(subscription.state, "unsubscribing");
  await time.tickAsync(1);
  assert.equal(settled, true);
  await assert.rejects(unsubscribing, TimeoutError);
  assert.equal(subscription.state, "closed");
  // The late ack and update land on the still-held id and are dropped.
  await t.session.send(
    { requestId: sub.requestId, responseType: UPDATE },
    { requestId: sub.requestId, responseType: RESPONSE },
  );
  const call = t.client.request("/x");
  const request = (await t.session.next())!;
  assert.notEqual(request.requestId, sub.requestId);
  await t.session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
  });
  await call;
  assert.equal(subscription.discarded, 1);
});

Deno.test("Client subscription ends with a TimeoutError when a resubscribe is not acknowledged in time", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5, jitter: 0 },
  });
  const errors: Error[] = [];
  const subscribing = t.client.subscribe("/t", undefined, {
    timeout: 30,
    onError: (error) => errors.push(error),
  });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  using time = new FakeTime();
  const iteration = subscription[Symbol.asyncIterator]().next();
  let ended = false;
  iteration.catch(() => ended = true);
  const next = t.server.accept();
  t.session.close();
  await waitFor(() => t.client.state === "waiting");
  await time.tickAsync(5);
  const session = await next;
  const resub = (await session.next())!;
  assert.equal(resub.requestType, SUBSCRIBE);
  await time.tickAsync(29);
  assert.equal(ended, false);
  assert.equal(subscription.state, "resubscribing");
  await time.tickAsync(1);
  assert.equal(ended, true);
  await assert.rejects(iteration, TimeoutError);
  assert.ok(subscription.error instanceof TimeoutError);
  assert.equal(errors.length, 1);
  // It cleans up after itself on the server.
  const unsub = (await session.next())!;
  assert.equal(unsub.requestType, REQUEST);
  assert.equal(unsub.requestId, sub.requestId);
  await session.send(
    { requestId: sub.requestId, responseType: RESPONSE },
    { requestId: sub.requestId, responseType: RESPONSE },
  );
  await waitFor(() => subscription.state === "closed");
});

Deno.test("Client subscribe copies the filter", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
  const filter = enc.encode("ada");
  const subscribing = t.client.subscribe("/t", filter);
  filter.fill(0);
  const sub = (await t.session.next())!;
  assert.deepEqual(sub.data, enc.encode("ada"));
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  assert.deepEqual(subscription.filter, enc.encode("ada"));
});
