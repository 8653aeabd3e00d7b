// The client resumes its server-side session by itself, over real sockets
// through a proxy that cuts the connection as a network failure would.

import assert from "node:assert/strict";
import {
  nextEvent,
  startProxy,
  startServer,
  waitFor,
  within,
} from "../testing/mod.ts";
import type { Server, SessionEvent } from "../server/mod.ts";
import { connect } from "./connect.ts";
import type { ConnectionEvent } from "./events.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const FAST = { initial: 5, max: 20, jitter: 0 };

function setup(server: Server): void {
  server.topic("/news");
  server.handle("/iam", (ctx) => {
    ctx.session.set("who", decoder.decode(ctx.data));
  });
  server.handle("/who", (ctx) => ctx.session.get<string>("who") ?? "nobody");
}

for (const transport of ["tcp", "ws"] as const) {
  Deno.test(`Client with resume takes its session back after a drop (${transport}): missed updates, same subscription, attributes kept`, async () => {
    await using t = await startServer(setup);
    let target = { hostname: "127.0.0.1", port: t.tcp!.port };
    if (transport === "ws") {
      const http = await t.server.listen({ http: { port: 0 } });
      target = {
        hostname: "127.0.0.1",
        port: (http.addr as Deno.NetAddr).port,
      };
    }
    await using proxy = await startProxy(target);
    const url = transport === "ws"
      ? `ws://127.0.0.1:${proxy.port}/nanorpc`
      : `tcp://127.0.0.1:${proxy.port}`;
    await using client = await connect(url, {
      resume: true,
      reconnect: FAST,
      keepalive: false,
    });
    const got: string[] = [];
    const sub = await client.subscribe("/news", undefined, {
      onUpdate: (u) => got.push(decoder.decode(u)),
    });
    await client.request("/iam", encoder.encode("ada"));
    await waitFor(() => client.pending === 0, { message: "the token" });
    t.server.publish("/news", encoder.encode("before"));
    await waitFor(() => got.length === 1);

    const back = nextEvent<ConnectionEvent>(client, "reconnect");
    proxy.cut();
    await waitFor(() => t.server.stats().lingeringSessions === 1);
    t.server.publish("/news", encoder.encode("while away"));
    const event = await back;
    assert.equal(event.resumed, true);
    assert.equal(event.lostUpdates, 0);
    await waitFor(() => got.length === 2);
    t.server.publish("/news", encoder.encode("after"));
    await waitFor(() => got.length === 3);
    assert.deepEqual(got, ["before", "while away", "after"]);
    assert.equal(sub.state, "active");
    const who = await client.request("/who");
    assert.equal(decoder.decode(who.data), "ada");
    assert.equal(t.server.stats().sessions, 1);
    assert.equal(t.server.stats().subscriptions, 1);
    assert.equal(t.server.stats().resumes, 1);

    // The new token works too: a second drop resumes again.
    await waitFor(() => client.pending === 0);
    const again = nextEvent<ConnectionEvent>(client, "reconnect");
    proxy.cut();
    assert.equal((await again).resumed, true);
    assert.equal(t.server.stats().resumes, 2);
  });
}

Deno.test("Client with resume subscribes again when the server does not know its token", async () => {
  await using t = await startServer(setup);
  await using proxy = await startProxy({
    hostname: "127.0.0.1",
    port: t.tcp!.port,
  });
  await using client = await connect(`tcp://127.0.0.1:${proxy.port}`, {
    resume: true,
    reconnect: FAST,
    keepalive: false,
  });
  const got: string[] = [];
  await client.subscribe("/news", undefined, {
    onUpdate: (u) => got.push(decoder.decode(u)),
  });
  await client.request("/iam", encoder.encode("ada"));
  await waitFor(() => client.pending === 0);
  const back = nextEvent<ConnectionEvent>(client, "reconnect");
  await t.restart(); // A new server on the same port: the token is unknown.
  const event = await back;
  assert.equal(event.resumed, false);
  await waitFor(() => t.server.stats().subscriptions === 1);
  t.server.publish("/news", encoder.encode("fresh"));
  await waitFor(() => got.includes("fresh"));
  const who = await client.request("/who");
  assert.equal(decoder.decode(who.data), "nobody");
  // A token for the new session comes by itself.
  await waitFor(() => client.pending === 0);
  const resumed = nextEvent<ConnectionEvent>(client, "reconnect");
  proxy.cut();
  assert.equal((await resumed).resumed, true);
});

Deno.test("Client with resume ends on the server a subscription it ended while away", async () => {
  await using t = await startServer(setup);
  await using proxy = await startProxy({
    hostname: "127.0.0.1",
    port: t.tcp!.port,
  });
  await using client = await connect(`tcp://127.0.0.1:${proxy.port}`, {
    resume: true,
    reconnect: { initial: 200, max: 200, jitter: 0 },
    keepalive: false,
  });
  const sub = await client.subscribe("/news");
  await waitFor(() => client.pending === 0);
  const back = nextEvent<ConnectionEvent>(client, "reconnect");
  proxy.cut();
  await waitFor(() => client.state === "waiting");
  await sub.unsubscribe();
  assert.equal((await back).resumed, true);
  await waitFor(() => t.server.stats().subscriptions === 0, {
    message: "the server to drop the subscription",
  });
});

Deno.test("Client closed while its resume is being answered says goodbye, so the resumed session does not linger", async () => {
  await using t = await startServer(setup);
  await using proxy = await startProxy({
    hostname: "127.0.0.1",
    port: t.tcp!.port,
  });
  const client = await connect(`tcp://127.0.0.1:${proxy.port}`, {
    resume: true,
    reconnect: FAST,
    keepalive: false,
  });
  await client.subscribe("/news", undefined, { onUpdate: () => {} });
  await waitFor(() => client.pending === 0, { message: "the token" });
  let closing: Promise<void> | undefined;
  // The server ends the connection's own session as it resumes the old
  // one, before the answer goes out: the client is still resuming.
  t.server.addEventListener("sessionclose", (e) => {
    if (/^resumed/.test((e as SessionEvent).reason)) closing ??= client.close();
  });
  proxy.cut();
  await waitFor(() => closing !== undefined, { message: "the resume" });
  await closing;
  assert.equal(client.state, "closed");
  await waitFor(() => t.server.stats().sessions === 0, {
    message: "the resumed session to end",
  });
  assert.equal(t.server.stats().lingeringSessions, 0);
});

Deno.test("Client runs beforeReconnect before each reconnection and retries when it throws", async () => {
  await using t = await startServer(setup);
  await using proxy = await startProxy({
    hostname: "127.0.0.1",
    port: t.tcp!.port,
  });
  let calls = 0;
  await using client = await connect(`tcp://127.0.0.1:${proxy.port}`, {
    reconnect: FAST,
    keepalive: false,
    beforeReconnect: () => {
      calls++;
      if (calls === 1) throw new Error("credentials not ready");
    },
  });
  assert.equal(calls, 0, "not before the first connection");
  await client.request("/who");
  // A failed hook, a backoff and a dial: generous on a loaded machine.
  const back = nextEvent<ConnectionEvent>(client, "reconnect", {
    timeout: 20_000,
  });
  proxy.cut();
  const event = await back;
  assert.equal(calls, 2);
  assert.equal(event.resumed, false);
  assert.equal(decoder.decode((await client.request("/who")).data), "nobody");
});

Deno.test("Client close does not wait for a beforeReconnect hook that never settles, and aborts the hook's signal", async () => {
  await using t = await startServer(setup);
  await using proxy = await startProxy({
    hostname: "127.0.0.1",
    port: t.tcp!.port,
  });
  const signals: AbortSignal[] = [];
  const client = await connect(`tcp://127.0.0.1:${proxy.port}`, {
    reconnect: FAST,
    keepalive: false,
    beforeReconnect: (signal) => {
      signals.push(signal);
      return new Promise<void>(() => {});
    },
  });
  proxy.cut();
  await waitFor(() => signals.length === 1, {
    message: "the hook to be called",
  });
  await within(client.close(), { message: "close()" });
  assert.equal(signals[0].aborted, true);
  assert.equal(client.state, "closed");
});
