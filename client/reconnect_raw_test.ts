// Connection loss against a hand-driven peer: in-flight failures, the
// waiting queue, resubscribing, keepalive and close.

import assert from "node:assert/strict";
import { Client } from "./client.ts";
import { connect } from "./connect.ts";
import {
  ConnectionClosedError,
  ConnectionLostError,
  NotConnectedError,
  TimeoutError,
} from "./errors.ts";
import type { ConnectionEvent } from "./events.ts";
import {
  clientWithRawServer,
  FakeTime,
  nextEvent,
  PING,
  PONG,
  RawServer,
  type RawSession,
  RESPONSE,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";

const enc = new TextEncoder();

Deno.test("Client fails in-flight requests with ConnectionLostError, queues new ones and resubscribes", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
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
  const next = t.server.accept();
  t.session.close();
  await assert.rejects(inFlight, ConnectionLostError);
  assert.equal(subscription.state, "resubscribing");
  // Made while disconnected: waits for the next connection.
  const queued = t.client.request("/queued");
  const session = await next;
  const resub = (await session.next())!;
  assert.equal(resub.requestType, SUBSCRIBE);
  assert.equal(resub.requestId, sub.requestId);
  assert.deepEqual(resub.pathOneof, sub.pathOneof);
  assert.deepEqual(resub.data, enc.encode("filter"));
  await session.answer();
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
  const gone = new RawServer();
  const port = gone.port;
  await gone.close();
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
  const gone = new RawServer();
  const port = gone.port;
  await gone.close();
  using time = new FakeTime();
  const client = new Client(`tcp://127.0.0.1:${port}`, {
    waitForServer: true,
    keepalive: false,
    reconnect: { initial: 1000, max: 1000 },
  });
  let settled = false;
  const call = client.request("/x", undefined, { timeout: 20 });
  call.catch(() => settled = true);
  await waitFor(() => client.state === "waiting");
  await time.tickAsync(19);
  assert.equal(settled, false);
  assert.equal(client.pending, 1);
  await time.tickAsync(1);
  assert.equal(settled, true);
  await assert.rejects(call, TimeoutError);
  assert.equal(client.pending, 0);
  await client.close();
});

Deno.test("connect rejects when the server is not there", async () => {
  const gone = new RawServer();
  const port = gone.port;
  await gone.close();
  await assert.rejects(
    connect(`tcp://127.0.0.1:${port}`),
    (e: unknown) =>
      e instanceof NotConnectedError && /Could not connect/.test(e.message),
  );
});

Deno.test("Client keepalive pings a quiet server and drops it once silent for the timeout", async () => {
  using time = new FakeTime();
  await using t = await clientWithRawServer({
    keepalive: { interval: 20, timeout: 30 },
    reconnect: { initial: 5, max: 5, jitter: 0 },
  });
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  await time.tickAsync(19);
  await time.tickAsync(1);
  const ping = (await t.session.next())!;
  assert.equal(ping.requestType, PING);
  // Never answer: 30 ms after the ping the client gives up and dials again.
  const next = t.server.accept();
  const disconnected = nextEvent<ConnectionEvent>(t.client, "disconnect");
  await time.tickAsync(29);
  assert.equal(disconnects, 0);
  assert.equal(t.client.state, "open");
  await time.tickAsync(1);
  assert.match((await disconnected).error!.message, /keepalive/);
  await waitFor(() => t.client.state === "waiting");
  await time.tickAsync(5);
  const session = await next;
  await time.tickAsync(20);
  const ping2 = (await session.next())!;
  assert.equal(ping2.requestType, PING);
  await session.send({ requestId: ping2.requestId, responseType: PONG });
});

Deno.test("Client keepalive keeps a connection that hears from the server in time, PONG or not", async () => {
  using time = new FakeTime();
  await using t = await clientWithRawServer({
    keepalive: { interval: 20, timeout: 30 },
  });
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  await time.tickAsync(20);
  assert.equal((await t.session.next())!.requestType, PING);
  const call = t.client.request("/x");
  const request = (await t.session.next())!;
  await time.tickAsync(20);
  await t.session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
  });
  await call;
  // The ping times out at 50 ms, but the server was heard at 40.
  await time.tickAsync(10);
  await t.session.sync(t.client);
  assert.equal(disconnects, 0);
  assert.equal(t.client.state, "open");
});

Deno.test("Client keepalive pings every interval and stays connected while the server answers", async () => {
  using time = new FakeTime();
  await using t = await clientWithRawServer({
    keepalive: { interval: 10, timeout: 50 },
  });
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  for (let i = 0; i < 20; i++) {
    await time.tickAsync(10);
    const ping = (await t.session.next())!;
    assert.equal(ping.requestType, PING);
    await t.session.send({ requestId: ping.requestId, responseType: PONG });
    await waitFor(() => t.client.pending === 0);
  }
  assert.equal(disconnects, 0);
  assert.equal(t.client.state, "open");
});

Deno.test("Client close ends subscriptions and rejects pending requests", async () => {
  const t = await clientWithRawServer();
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
  await t.server.close();
});

Deno.test("Client queues requests made in a disconnect listener and sends them after reconnecting", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
  let state = "";
  let made: Promise<unknown>[] = [];
  t.client.addEventListener("disconnect", () => {
    state = t.client.state;
    made = [t.client.request("/from-listener"), t.client.ping()];
  }, { once: true });
  const next = t.server.accept();
  t.session.close();
  const session = await next;
  assert.equal(state, "waiting");
  const request = (await session.next())!;
  const ping = (await session.next())!;
  assert.deepEqual(request.pathOneof, {
    case: "path",
    value: "/from-listener",
  });
  assert.equal(ping.requestType, 1);
  await session.send(
    { requestId: request.requestId, responseType: RESPONSE },
    { requestId: ping.requestId, responseType: PONG },
  );
  await Promise.all(made);
});

Deno.test("Client is closed before disconnect listeners run when it does not reconnect", async () => {
  await using t = await clientWithRawServer({ reconnect: false });
  const seen = Promise.withResolvers<[string, Promise<unknown>]>();
  t.client.addEventListener("disconnect", () => {
    seen.resolve([t.client.state, t.client.request("/late")]);
  });
  t.session.close();
  const [state, late] = await seen.promise;
  assert.equal(state, "closed");
  await assert.rejects(late, ConnectionClosedError);
});

Deno.test("Client dispatches no reconnect event after a connect listener closed it", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
  let reconnects = 0;
  t.client.addEventListener("reconnect", () => reconnects++);
  const closed = Promise.withResolvers<void>();
  t.client.addEventListener("connect", () => {
    t.client.close().then(closed.resolve);
  });
  const next = t.server.accept();
  t.session.close();
  await next;
  await closed.promise;
  assert.equal(t.client.state, "closed");
  assert.equal(reconnects, 0);
});

for (
  const [how, hangUp] of [
    ["hangs up", (session: RawSession) => session.close()],
    [
      "sends a frame for no request of its own, then hangs up",
      async (session: RawSession) => {
        await session.send(
          { requestId: 999, responseType: UPDATE, data: new Uint8Array([1]) },
          { requestId: 0, responseType: PONG },
        );
        session.close();
      },
    ],
  ] as const
) {
  Deno.test(`Client backoff grows against a server that accepts and ${how}`, async () => {
    using time = new FakeTime();
    await using server = new RawServer();
    const first = server.accept();
    const client = await connect(server.url, {
      keepalive: false,
      reconnect: { initial: 10, max: 10_000, jitter: 0 },
    });
    await hangUp(await first);
    // No connection answers one of the client's own requests, so none
    // counts as healthy: each delay doubles, and the client waits all of
    // it before dialling again.
    for (const delay of [10, 20, 40, 80, 160]) {
      await waitFor(() => client.state === "waiting");
      const next = server.accept();
      await time.tickAsync(delay - 1);
      assert.equal(client.state, "waiting", `dialled again before ${delay} ms`);
      await time.tickAsync(1);
      assert.notEqual(
        client.state,
        "waiting",
        `still waiting after ${delay} ms`,
      );
      await hangUp(await next);
    }
    await client.close();
  });
}

Deno.test("Client sends what a reconnect listener sends before resubscribing and before the requests that waited", async () => {
  await using t = await clientWithRawServer({
    reconnect: { initial: 5, max: 5 },
  });
  const subscribing = t.client.subscribe("/t");
  const sub = (await t.session.next())!;
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  await subscribing;
  // A new session after the reconnect: the listener logs in again.
  let login: Promise<unknown> | undefined;
  t.client.addEventListener("reconnect", () => {
    login = t.client.request("/login", enc.encode("ada"));
  });
  const next = t.server.accept();
  t.session.close();
  await waitFor(() => t.client.state !== "open");
  const queued = t.client.request("/queued");
  const session = await next;
  const paths = [];
  for (let i = 0; i < 3; i++) {
    const frame = (await session.next())!;
    const path = frame.pathOneof.case === "path"
      ? frame.pathOneof.value
      : String(frame.pathOneof.value);
    paths.push(`${frame.requestType === SUBSCRIBE ? "SUBSCRIBE" : ""}${path}`);
    await session.send({ requestId: frame.requestId, responseType: RESPONSE });
  }
  assert.deepEqual(paths, ["/login", "SUBSCRIBE/t", "/queued"]);
  await login;
  await queued;
});
