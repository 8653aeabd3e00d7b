// Connection loss against a hand-driven peer: in-flight failures, the
// waiting queue, resubscribing, keepalive and close.

import assert from "node:assert/strict";
import { Client, connect } from "./client.ts";
import {
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
