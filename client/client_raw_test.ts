// The client against a hand-driven peer that writes hand-made response
// bytes: wire details, id allocation, the unsubscribe handshake, malformed
// input, reconnection and keepalive.

import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { Client, connect } from "./client.ts";
import type { ClientOptions } from "./options.ts";
import {
  ConnectionLostError,
  InternalError,
  NotAuthorizedError,
  NotConnectedError,
  NotFoundError,
  ProtocolError,
  TimeoutError,
} from "./errors.ts";
import type { ConnectionEvent } from "./events.ts";
import { concat, type PeerSession, RawPeer, varint } from "./_raw_peer_test.ts";
import { until } from "./_fixture_test.ts";

const RESPONSE = 2;
const UPDATE = 3;
const PONG = 1;
const enc = new TextEncoder();

async function setup(options: ClientOptions = {}) {
  const peer = new RawPeer();
  const accepted = peer.accept();
  const client = await connect(peer.address, { keepalive: false, ...options });
  const session = await accepted;
  return {
    peer,
    client,
    session,
    async [Symbol.asyncDispose]() {
      await client.close();
      await peer.close();
    },
  };
}

function nextEvent(client: Client, type: string): Promise<ConnectionEvent> {
  return new Promise((resolve) =>
    client.addEventListener(type, (e) => resolve(e as ConnectionEvent), {
      once: true,
    })
  );
}

async function answer(session: PeerSession, data?: Uint8Array) {
  const request = (await session.next())!;
  await session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
    data,
  });
  return request;
}

Deno.test("Client writes every request of one turn in one write", async () => {
  await using t = await setup();
  const calls = Array.from(
    { length: 50 },
    (_, i) => t.client.request(`/r${i}`, new Uint8Array([i])),
  );
  for (let i = 0; i < 50; i++) {
    const request = (await t.session.next())!;
    assert.equal(request.pathOneof.value, `/r${i}`);
    await t.session.send({
      requestId: request.requestId,
      responseType: RESPONSE,
      data: request.data,
    });
  }
  const responses = await Promise.all(calls);
  assert.deepEqual(responses.map((r) => r.data[0]), [...Array(50).keys()]);
  assert.equal(t.session.reads, 1);
});

Deno.test("Client maps non-OK statuses to NanoRpcError subclasses", async () => {
  await using t = await setup();
  const calls = [1, 2, 3, 4, 9].map((_, i) => t.client.request(`/s${i}`));
  const statuses = [2, 3, 4, 9, 0];
  for (const status of statuses) {
    const r = (await t.session.next())!;
    await t.session.send({
      requestId: r.requestId,
      responseType: RESPONSE,
      responseStatus: status,
      responseMessage: status === 2 ? "No handler at /s0" : "",
    });
  }
  await assert.rejects(
    calls[0],
    (e: unknown) =>
      e instanceof NotFoundError && e.status === 2 &&
      e.message === "No handler at /s0",
  );
  await assert.rejects(calls[1], NotAuthorizedError);
  await assert.rejects(calls[2], InternalError);
  await assert.rejects(
    calls[3],
    (e: unknown) =>
      e instanceof Error && "status" in e && e.status === 9 &&
      /STATUS_9/.test(e.message),
  );
  await assert.rejects(
    calls[4],
    (e: unknown) => e instanceof Error && "status" in e && e.status === 0,
  );
});

Deno.test("Client sends the path as its FNV-1a hash when asked", async () => {
  await using t = await setup({ hash: true });
  const a = t.client.request("foobar");
  const b = t.client.request("/echo", undefined, { hash: false });
  const ra = await answer(t.session);
  const rb = await answer(t.session);
  await Promise.all([a, b]);
  assert.deepEqual(ra.pathOneof, { case: "pathHash", value: 0xbf9cf968 });
  assert.deepEqual(rb.pathOneof, { case: "path", value: "/echo" });
});

Deno.test("Client ids wrap from 2147483647 to -2147483648 and skip 0", async () => {
  await using t = await setup({ initialRequestId: 2147483646 });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const call = t.client.request("/x");
    ids.push((await answer(t.session)).requestId);
    await call;
  }
  assert.deepEqual(ids, [2147483646, 2147483647, -2147483648]);

  await using u = await setup({ initialRequestId: -1 });
  const more = [];
  for (let i = 0; i < 2; i++) {
    const call = u.client.request("/x");
    more.push((await answer(u.session)).requestId);
    await call;
  }
  assert.deepEqual(more, [-1, 1]);
});

Deno.test("Client never reuses an id held by a pending request or a subscription", async () => {
  await using t = await setup({ initialRequestId: 2147483647 });
  const subscribing = t.client.subscribe("/t");
  const sub = (await t.session.next())!;
  assert.equal(sub.requestId, 2147483647);
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const pending = t.client.request("/slow");
  const slow = (await t.session.next())!;
  assert.equal(slow.requestId, -2147483648);
  await t.session.send({ requestId: slow.requestId, responseType: RESPONSE });
  await pending;
  assert.equal(subscription.id, 2147483647);
});

Deno.test("Client keeps a timed-out request's id until its late answer", async () => {
  await using t = await setup({ initialRequestId: 2147483647 });
  const late = t.client.request("/late", undefined, { timeout: 20 });
  const first = (await t.session.next())!;
  await assert.rejects(late, TimeoutError);
  const next = t.client.request("/next");
  const second = (await t.session.next())!;
  assert.notEqual(second.requestId, first.requestId);
  // The late answer is dropped; the newer request is unaffected.
  await t.session.send(
    {
      requestId: first.requestId,
      responseType: RESPONSE,
      data: enc.encode("late"),
    },
    {
      requestId: second.requestId,
      responseType: RESPONSE,
      data: enc.encode("ok"),
    },
  );
  assert.equal(new TextDecoder().decode((await next).data), "ok");
  assert.equal(t.client.pending, 0);
});

Deno.test("Client rejects with the signal's reason on abort", async () => {
  await using t = await setup();
  const controller = new AbortController();
  const call = t.client.request("/slow", undefined, {
    signal: controller.signal,
  });
  await t.session.next();
  controller.abort(new Error("user gave up"));
  await assert.rejects(call, /user gave up/);
  const already = t.client.request("/x", undefined, {
    signal: AbortSignal.abort(),
  });
  await assert.rejects(
    already,
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
});

Deno.test("Client ping resolves with the round-trip time", async () => {
  await using t = await setup();
  const ping = t.client.ping();
  const request = (await t.session.next())!;
  assert.equal(request.requestType, 1);
  assert.equal(request.pathOneof.case, undefined);
  await t.session.send({ requestId: request.requestId, responseType: PONG });
  const ms = await ping;
  assert.ok(ms >= 0 && ms < 5000);
});

Deno.test("Client call encodes and decodes with protobuf-es schemas", async () => {
  await using t = await setup();
  const call = t.client.call("/room/echo", { name: "ada" }, {
    input: ChatJoinSchema,
    output: ChatMessageSchema,
  });
  const request = (await t.session.next())!;
  assert.deepEqual(
    request.data,
    toBinary(ChatJoinSchema, create(ChatJoinSchema, { name: "ada" })),
  );
  await t.session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
    data: toBinary(
      ChatMessageSchema,
      create(ChatMessageSchema, { from: "ada", text: "hi" }),
    ),
  });
  const message = await call;
  assert.equal(message.from, "ada");
  assert.equal(message.text, "hi");
});

Deno.test("Client unsubscribe follows the protocol and discards updates before its ack", async () => {
  await using t = await setup();
  const subscribing = t.client.subscribe("/t", enc.encode("f"));
  const sub = (await t.session.next())!;
  assert.equal(sub.requestType, 3);
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
  assert.equal(unsub.requestType, 2);
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
  await new Promise((r) => setTimeout(r, 20));
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
  await using t = await setup();
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
  assert.equal(unsub.requestType, 2);
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
  await using t = await setup();
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
  await new Promise((r) => setTimeout(r, 20));
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
  await using t = await setup();
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
  await new Promise((r) => setTimeout(r, 20));
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

Deno.test("Client closes the connection on a malformed response with a clear error", async () => {
  await using t = await setup({ reconnect: false });
  const call = t.client.request("/x");
  const disconnected = nextEvent(t.client, "disconnect");
  await t.session.next();
  // A frame whose field 1 has wire type 7.
  await t.session.send(concat([varint(2), new Uint8Array([0x0f, 0x01])]));
  await assert.rejects(
    call,
    (e: unknown) =>
      e instanceof ProtocolError && e instanceof ConnectionLostError &&
      /Malformed response/.test(e.message),
  );
  assert.ok((await disconnected).error instanceof ProtocolError);
  assert.equal(t.client.state, "closed");
});

Deno.test("Client rejects a response over maxMessageSize without allocating it", async () => {
  await using t = await setup({ reconnect: false, maxMessageSize: 100 });
  const call = t.client.request("/x");
  await t.session.next();
  await t.session.send(concat([varint(1 << 30), new Uint8Array(8)]));
  await assert.rejects(call, /maximum message size/);
});

Deno.test("Client fails in-flight requests with ConnectionLostError, queues new ones and resubscribes", async () => {
  await using t = await setup({ reconnect: { initial: 5, max: 5 } });
  const subscribing = t.client.subscribe("/t", enc.encode("filter"));
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const inFlight = t.client.request("/in-flight");
  await t.session.next();
  const events: string[] = [];
  for (const type of ["connect", "disconnect", "reconnect"]) {
    t.client.addEventListener(type, () => events.push(type));
  }
  const next = t.peer.accept();
  t.session.close();
  await assert.rejects(inFlight, ConnectionLostError);
  assert.equal(subscription.state, "resubscribing");
  // Made while disconnected: waits for the next connection.
  const queued = t.client.request("/queued");
  const session = await next;
  const resub = (await session.next())!;
  assert.equal(resub.requestType, 3);
  assert.equal(resub.requestId, sub.requestId);
  assert.deepEqual(resub.pathOneof, sub.pathOneof);
  assert.deepEqual(resub.data, enc.encode("filter"));
  await answer(session);
  await session.send({ requestId: sub.requestId, responseType: RESPONSE });
  await session.send({
    requestId: sub.requestId,
    responseType: UPDATE,
    data: enc.encode("after"),
  });
  await queued;
  const it = subscription[Symbol.asyncIterator]();
  assert.deepEqual((await it.next()).value, enc.encode("after"));
  assert.equal(subscription.state, "active");
  assert.deepEqual(events, ["disconnect", "connect", "reconnect"]);
});

Deno.test("Client fails fast or bounds its queue while disconnected", async () => {
  const peer = new RawPeer();
  const port = peer.port;
  await peer.close();
  const failFast = new Client(`tcp://127.0.0.1:${port}`, {
    waitForServer: true,
    failFast: true,
    keepalive: false,
    reconnect: { initial: 1000, max: 1000 },
  });
  await assert.rejects(failFast.request("/x"), NotConnectedError);
  await failFast.close();
  const bounded = new Client(`tcp://127.0.0.1:${port}`, {
    waitForServer: true,
    queueSize: 2,
    keepalive: false,
    reconnect: { initial: 1000, max: 1000 },
  });
  const waiting = [bounded.request("/a"), bounded.request("/b")];
  await assert.rejects(bounded.request("/c"), /already waiting/);
  const timed = bounded.request("/d", undefined, { timeout: 10 });
  await assert.rejects(timed, /already waiting/);
  const rejected = waiting.map((call) =>
    assert.rejects(call, /Client is closed/)
  );
  await bounded.close();
  await Promise.all(rejected);
});

Deno.test("Client queued request times out while disconnected", async () => {
  const peer = new RawPeer();
  const port = peer.port;
  await peer.close();
  const client = new Client(`tcp://127.0.0.1:${port}`, {
    waitForServer: true,
    keepalive: false,
    reconnect: { initial: 1000, max: 1000 },
  });
  await assert.rejects(
    client.request("/x", undefined, { timeout: 20 }),
    TimeoutError,
  );
  assert.equal(client.pending, 0);
  await client.close();
});

Deno.test("connect rejects when the server is not there", async () => {
  const peer = new RawPeer();
  const port = peer.port;
  await peer.close();
  await assert.rejects(
    connect(`tcp://127.0.0.1:${port}`),
    (e: unknown) =>
      e instanceof NotConnectedError && /Could not connect/.test(e.message),
  );
});

Deno.test("Client keepalive drops a silent server and reconnects", async () => {
  await using t = await setup({
    keepalive: { interval: 20, timeout: 30 },
    reconnect: { initial: 5, max: 5 },
  });
  const ping = (await t.session.next())!;
  assert.equal(ping.requestType, 1);
  // Never answer: the client gives up on this connection and dials again.
  const next = t.peer.accept();
  const disconnected = nextEvent(t.client, "disconnect");
  assert.match((await disconnected).error!.message, /keepalive/);
  const session = await next;
  const ping2 = (await session.next())!;
  await session.send({ requestId: ping2.requestId, responseType: PONG });
});

Deno.test("Client keepalive stays quiet while the server answers", async () => {
  await using t = await setup({ keepalive: { interval: 10, timeout: 50 } });
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  for (let i = 0; i < 5; i++) {
    const ping = (await t.session.next())!;
    assert.equal(ping.requestType, 1);
    await t.session.send({ requestId: ping.requestId, responseType: PONG });
  }
  assert.equal(disconnects, 0);
});

Deno.test("Client close ends subscriptions and rejects pending requests", async () => {
  const t = await setup();
  const subscribing = t.client.subscribe("/t");
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const call = t.client.request("/x");
  const iteration = subscription[Symbol.asyncIterator]().next();
  const rejected = assert.rejects(call, /Client is closed/);
  await t.client.close();
  await rejected;
  assert.equal((await iteration).done, true);
  assert.equal(subscription.state, "closed");
  await assert.rejects(t.client.request("/y"), /Client is closed/);
  await t.peer.close();
});

Deno.test("Client subscription ends with the error when the server refuses the resubscribe", async () => {
  await using t = await setup({ reconnect: { initial: 5, max: 5 } });
  const errors: Error[] = [];
  const subscribing = t.client.subscribe("/t", undefined, {
    onError: (e) => errors.push(e),
  });
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  const subscription = await subscribing;
  const iteration = subscription[Symbol.asyncIterator]().next();
  const next = t.peer.accept();
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
  await using t = await setup();
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
    /does not decode as nanorpc\.demo\.ChatMessage/,
  );
  const unsub = (await t.session.next())!;
  assert.equal(unsub.requestId, sub.requestId);
  assert.equal(unsub.requestType, 2);
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  await until(() => subscription.state === "closed");
});
