// Requests against a hand-driven peer that writes hand-made response bytes:
// corked writes, statuses, path hashes, request ids, timeouts, malformed input.

import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import {
  ConnectionLostError,
  InternalError,
  NotAuthorizedError,
  NotFoundError,
  ProtocolError,
  TimeoutError,
} from "./errors.ts";
import type { ConnectionEvent } from "./events.ts";
import { MalformedReason } from "../wasm/malformed.ts";
import {
  clientWithRawServer,
  concat,
  FakeTime,
  nextEvent,
  PING,
  PONG,
  RESPONSE,
  varint,
  waitFor,
  within,
} from "../testing/mod.ts";

const enc = new TextEncoder();

Deno.test("Client writes every request of one turn in one write", async () => {
  await using t = await clientWithRawServer();
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
  await using t = await clientWithRawServer();
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
  await using t = await clientWithRawServer({ hash: true });
  const a = t.client.request("foobar");
  const b = t.client.request("/echo", undefined, { hash: false });
  const ra = await t.session.answer();
  const rb = await t.session.answer();
  await Promise.all([a, b]);
  assert.deepEqual(ra.pathOneof, { case: "pathHash", value: 0xbf9cf968 });
  assert.deepEqual(rb.pathOneof, { case: "path", value: "/echo" });
});

Deno.test("Client ids wrap from 2147483647 to -2147483648 and skip 0", async () => {
  await using t = await clientWithRawServer({ initialRequestId: 2147483646 });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const call = t.client.request("/x");
    ids.push((await t.session.answer()).requestId);
    await call;
  }
  assert.deepEqual(ids, [2147483646, 2147483647, -2147483648]);

  await using u = await clientWithRawServer({ initialRequestId: -1 });
  const more = [];
  for (let i = 0; i < 2; i++) {
    const call = u.client.request("/x");
    more.push((await u.session.answer()).requestId);
    await call;
  }
  assert.deepEqual(more, [-1, 1]);
});

Deno.test("Client never reuses an id held by a pending request or a subscription", async () => {
  await using t = await clientWithRawServer({ initialRequestId: 2147483647 });
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

Deno.test("Client times a request out after its timeout and keeps its id until its late answer", async () => {
  await using t = await clientWithRawServer({ initialRequestId: 2147483647 });
  using time = new FakeTime();
  const late = t.client.request("/late", undefined, { timeout: 20 });
  let settled = false;
  late.catch(() => settled = true);
  const first = (await t.session.next())!;
  await time.tickAsync(19);
  assert.equal(settled, false);
  await time.tickAsync(1);
  assert.equal(settled, true);
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
  await using t = await clientWithRawServer();
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
  await using t = await clientWithRawServer();
  using time = new FakeTime();
  const ping = t.client.ping();
  const request = (await t.session.next())!;
  assert.equal(request.requestType, PING);
  assert.equal(request.pathOneof.case, undefined);
  await time.tickAsync(7);
  await t.session.send({ requestId: request.requestId, responseType: PONG });
  assert.equal(await ping, 7);
});

Deno.test("Client call encodes and decodes with protobuf-es schemas", async () => {
  await using t = await clientWithRawServer();
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
Deno.test("Client closes the connection on a malformed response with a clear error", async () => {
  await using t = await clientWithRawServer({ reconnect: false });
  const call = t.client.request("/x");
  const disconnected = nextEvent<ConnectionEvent>(t.client, "disconnect");
  await t.session.next();
  // A frame whose field 1 has wire type 7.
  await t.session.send(concat(varint(2), new Uint8Array([0x0f, 0x01])));
  await assert.rejects(
    call,
    (e: unknown) =>
      e instanceof ProtocolError && e instanceof ConnectionLostError &&
      /Malformed response/.test(e.message) &&
      e.reason === MalformedReason.WRONG_WIRE_TYPE,
  );
  assert.ok((await disconnected).error instanceof ProtocolError);
  assert.equal(t.client.state, "closed");
});

Deno.test("Client rejects a response over maxMessageSize without allocating it", async () => {
  await using t = await clientWithRawServer({
    reconnect: false,
    maxMessageSize: 100,
  });
  const call = t.client.request("/x");
  await t.session.next();
  await t.session.send(concat(varint(1 << 30), new Uint8Array(8)));
  await assert.rejects(call, /maximum message size/);
});

Deno.test("Client keeps string and hashed paths apart in its path cache", async () => {
  await using t = await clientWithRawServer();
  const hashed = t.client.request("/echo", undefined, { hash: true });
  assert.deepEqual((await t.session.answer()).pathOneof, {
    case: "pathHash",
    value: 0xc5f7ed3f,
  });
  await hashed;
  const literal = t.client.request("#/echo");
  assert.deepEqual((await t.session.answer()).pathOneof, {
    case: "path",
    value: "#/echo",
  });
  await literal;
});

Deno.test("Client never sends a request aborted before it was written", async () => {
  await using t = await clientWithRawServer();
  const controller = new AbortController();
  const aborted = t.client.request("/side-effect", enc.encode("charge"), {
    signal: controller.signal,
  });
  controller.abort(new Error("user cancelled"));
  await assert.rejects(aborted, /user cancelled/);
  const next = t.client.request("/next");
  const request = await t.session.answer();
  assert.deepEqual(request.pathOneof, { case: "path", value: "/next" });
  await next;
  assert.equal(t.client.pending, 0);
});

Deno.test("Client drops the connection once more than maxAbandonedRequests requests go unanswered", async () => {
  await using t = await clientWithRawServer({
    maxAbandonedRequests: 2,
    reconnect: { initial: 5, max: 5, jitter: 0 },
  });
  using time = new FakeTime();
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  const disconnected = nextEvent<ConnectionEvent>(t.client, "disconnect");
  const next = t.server.accept();
  const timedOut = [1, 2, 3].map((i) =>
    assert.rejects(
      t.client.request(`/stuck${i}`, undefined, { timeout: i * 10 }),
      TimeoutError,
    )
  );
  for (let i = 0; i < 3; i++) await t.session.next();
  // Two abandoned ids are within the bound: the connection stays.
  await time.tickAsync(20);
  await t.session.sync(t.client);
  assert.equal(disconnects, 0);
  await time.tickAsync(10);
  await within(Promise.all(timedOut), { message: "timeouts" });
  const event = await disconnected;
  assert.match(event.error!.message, /maxAbandonedRequests/);
  await waitFor(() => t.client.state === "waiting");
  await time.tickAsync(5);
  const session = await next;
  const call = t.client.request("/after");
  await session.answer();
  await call;
});

Deno.test("Client caps time limits above 2^31-1 ms instead of firing at once", async () => {
  const long = 30 * 24 * 3600 * 1000;
  // Installed first, so the dial and the keepalive use fake timers too.
  using time = new FakeTime();
  await using t = await clientWithRawServer({
    connectTimeout: long,
    keepalive: { interval: long, timeout: long },
  });
  const call = t.client.request("/x", undefined, { timeout: long });
  const subscribing = t.client.subscribe("/t", undefined, { timeout: long });
  let settled = false;
  Promise.allSettled([call, subscribing]).then(() => settled = true);
  const request = (await t.session.next())!;
  const subscribe = (await t.session.next())!;
  // A runtime timer fires after 1 ms for a delay above 2^31-1 ms.
  await time.tickAsync(2 ** 31 - 2);
  assert.equal(settled, false);
  assert.equal(t.client.state, "open");
  await t.session.send(
    { requestId: request.requestId, responseType: RESPONSE },
    { requestId: subscribe.requestId, responseType: RESPONSE },
  );
  await call;
  assert.equal((await subscribing).state, "active");
});

Deno.test("Client resolves a request only with a RESPONSE and a ping only with a PONG", async () => {
  await using t = await clientWithRawServer();
  const call = t.client.request("/x");
  const ping = t.client.ping();
  const request = (await t.session.next())!;
  const pingRequest = (await t.session.next())!;
  let settled = 0;
  call.then(() => settled++);
  ping.then(() => settled++);
  // The wrong answer types first: neither call takes them.
  await t.session.send(
    { requestId: request.requestId, responseType: PONG },
    { requestId: pingRequest.requestId, responseType: RESPONSE },
  );
  await t.session.sync(t.client);
  assert.equal(settled, 0);
  await t.session.send(
    { requestId: request.requestId, responseType: RESPONSE },
    { requestId: pingRequest.requestId, responseType: PONG },
  );
  await Promise.all([call, ping]);
});
