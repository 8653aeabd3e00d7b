// Connection loss against a hand-driven peer: in-flight failures, the
// waiting queue, resubscribing, keepalive and close.

import assert from "node:assert/strict";
import { Client, connect } from "./client.ts";
import {
  ConnectionClosedError,
  ConnectionLostError,
  NotConnectedError,
  TimeoutError,
} from "./errors.ts";
import {
  answer,
  nextEvent,
  PONG,
  RawPeer,
  RESPONSE,
  setup,
  UPDATE,
  within,
} from "./_raw_peer_test.ts";

const enc = new TextEncoder();

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

Deno.test("Client queues requests made in a disconnect listener and sends them after reconnecting", async () => {
  await using t = await setup({ reconnect: { initial: 5, max: 5 } });
  let state = "";
  let made: Promise<unknown>[] = [];
  t.client.addEventListener("disconnect", () => {
    state = t.client.state;
    made = [t.client.request("/from-listener"), t.client.ping()];
  }, { once: true });
  const next = t.peer.accept();
  t.session.close();
  const session = await within(next, 2000, "reconnection");
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
  await using t = await setup({ reconnect: false });
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
  await using t = await setup({ reconnect: { initial: 5, max: 5 } });
  let reconnects = 0;
  t.client.addEventListener("reconnect", () => reconnects++);
  const closed = Promise.withResolvers<void>();
  t.client.addEventListener("connect", () => {
    t.client.close().then(closed.resolve);
  });
  const next = t.peer.accept();
  t.session.close();
  await within(next, 2000, "reconnection");
  await within(closed.promise, 2000, "close");
  assert.equal(t.client.state, "closed");
  assert.equal(reconnects, 0);
});

Deno.test("Client backoff grows against a server that accepts and hangs up", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let hangUp = false;
  const accepting = (async () => {
    for await (const conn of listener) {
      if (hangUp) conn.close();
      else setTimeout(() => conn.close(), 10);
    }
  })().catch(() => {});
  const client = await connect(`tcp://127.0.0.1:${listener.addr.port}`, {
    keepalive: false,
    reconnect: { initial: 10, max: 10_000, jitter: 0 },
  });
  hangUp = true;
  let connects = 0;
  client.addEventListener("connect", () => connects++);
  // With growing delays: 10 + 20 + 40 + 80 + 160 ms; without, ~40 attempts.
  await new Promise((r) => setTimeout(r, 400));
  await client.close();
  listener.close();
  await accepting;
  assert.ok(connects >= 2 && connects <= 8, `${connects} connections`);
});
