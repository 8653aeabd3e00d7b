// The server's lifecycle over real sockets: an HTTP listener bound while
// shutdown starts frees its port, a drain ends with its sessions, whoever
// closes them, and no component hook holds or cuts short a shutdown.

import assert from "node:assert/strict";
import {
  FakeTime,
  RawClient,
  recordingLogger,
  silentLogger,
  startServer,
  waitFor,
  within,
} from "../testing/mod.ts";
import { Server } from "./server.ts";

/** A TCP port nothing listens on (free a moment ago). */
function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

Deno.test("Server.listen of an HTTP listener racing shutdown frees its port", async () => {
  const server = new Server({ logger: silentLogger });
  await server.listen({ hostname: "127.0.0.1", port: 0 });
  const port = freePort();
  // Bound after shutdown began: listen rejects, and nothing may keep the
  // port (nor the process) alive.
  const listening = assert.rejects(
    server.listen({ http: { hostname: "127.0.0.1", port } }),
    /shutting down/,
  );
  await server.shutdown();
  await listening;
  const again = Deno.listen({ hostname: "127.0.0.1", port });
  again.close();
});

Deno.test("Server.drain resolves once shutdown has closed every session, not at the window's end", async () => {
  const server = new Server({ logger: silentLogger });
  const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
  const raws = await Promise.all(
    Array.from(
      { length: 4 },
      () => RawClient.connect(listener.addr as Deno.NetAddr),
    ),
  );
  try {
    await waitFor(() => server.stats().sessions === 4);
    // Slots of 15 s each: none is due for a while (the first one at a
    // random moment of its slot, most likely seconds away).
    const drained = server.drain({ window: 60_000 });
    await waitFor(() => server.listeners.length === 0);
    await server.shutdown();
    assert.equal(server.stats().sessions, 0);
    await within(drained, { timeout: 2000, message: "end of the drain" });
  } finally {
    for (const raw of raws) raw.close();
    await server.shutdown();
  }
});

Deno.test("Server.drain stops at once when its signal aborts", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, logLevel: "info" });
  const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
  const raws = await Promise.all(
    Array.from(
      { length: 2 },
      () => RawClient.connect(listener.addr as Deno.NetAddr),
    ),
  );
  try {
    await waitFor(() => server.stats().sessions === 2);
    const stop = new AbortController();
    const drained = server.drain({ window: 600_000, signal: stop.signal });
    // Waiting for the first slot (most likely minutes away).
    await waitFor(() =>
      logger.lines.includes("draining 2 sessions over 600000 ms")
    );
    stop.abort();
    await within(drained, { timeout: 2000, message: "end of the drain" });
    // Sessions not yet closed stay.
    assert.equal(server.stats().sessions, 2);
  } finally {
    for (const raw of raws) raw.close();
    await server.shutdown();
  }
});

Deno.test("Server.drain refuses a peer whose handshake hook was still running when it stopped accepting", async () => {
  const entered = Promise.withResolvers<void>();
  const release = Promise.withResolvers<boolean>();
  const server = new Server({
    logger: silentLogger,
    handshake: () => {
      entered.resolve();
      return release.promise;
    },
  });
  const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await within(entered.promise, { message: "handshake hook call" });
    await server.drain({ window: 0 });
    release.resolve(true);
    // The drain is over: the peer is refused, not served by a session
    // nothing will drain.
    const n = await within(conn.read(new Uint8Array(16)), {
      message: "close of the refused connection",
    });
    assert.equal(n, null);
    assert.equal(server.stats().sessions, 0);
    assert.equal(server.stats().sessionsRefused, 1);
  } finally {
    release.resolve(true);
    await server.shutdown();
  }
});

Deno.test("Server.listen after a drain that stopped accepting is refused, binding nothing", async () => {
  const server = new Server({ logLevel: "error" });
  try {
    await server.listen({ hostname: "127.0.0.1", port: 0 });
    await server.drain({ window: 0 });
    await assert.rejects(
      server.listen({ hostname: "127.0.0.1", port: 0 }),
      /draining/,
    );
    assert.deepEqual(server.listeners, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("Server.shutdown gives a hook that never settles shutdownTimeout, logs it by name and goes on", async () => {
  const logger = recordingLogger();
  const calls: string[] = [];
  const late = Promise.withResolvers<void>();
  const server = new Server({ logger, logLevel: "info", shutdownTimeout: 100 });
  server.register({
    beforeShutdown: () => {
      calls.push("stuck before");
      return late.promise;
    },
    shutdown: () => {
      calls.push("stuck shutdown");
      return new Promise<void>(() => {});
    },
  }, { name: "stuck" });
  server.register({
    beforeShutdown: () => void calls.push("next before"),
    shutdown: () => void calls.push("next shutdown"),
  }, { name: "next" });
  await using t = await startServer(server);
  const peer = await t.connectRaw();
  await waitFor(() => server.stats().sessions === 1);
  using time = new FakeTime();
  let done = false;
  const stopping = server.shutdown().then(() => done = true);
  // A hook's deadline is armed as it is called.
  await waitFor(() => calls.length === 1, { message: "the stuck hook" });
  await time.tickAsync(99);
  assert.equal(done, false, "shutdown gave up on the hook early");
  assert.deepEqual(calls, ["stuck before"]);
  await time.tickAsync(1);
  // The next component's hook runs and the session closes; the stuck
  // shutdown hook then gets its own 100 ms.
  await waitFor(() => calls.length === 3, { message: "the shutdown hooks" });
  assert.equal(await peer.closedByServer(), true);
  await time.tickAsync(99);
  assert.equal(done, false, "shutdown gave up on the hook early");
  await time.tickAsync(1);
  await within(stopping, { message: "shutdown past both stuck hooks" });
  assert.deepEqual(calls, [
    "stuck before",
    "next before",
    "stuck shutdown",
    "next shutdown",
  ]);
  assert.deepEqual(logger.at("error"), [
    "component stuck beforeShutdown hook still running after 100 ms (shutdownTimeout): shutdown goes on without it",
    "component stuck shutdown hook still running after 100 ms (shutdownTimeout): shutdown goes on without it",
  ]);
  // Left behind, not forgotten: when it settles, that is said too.
  late.resolve();
  await waitFor(() =>
    logger.lines.includes(
      "component stuck beforeShutdown hook finished late, after 200 ms",
    ), { message: "the late hook's line" });
});

Deno.test("Server.shutdown goes on past hooks that throw, whatever they throw", async () => {
  const logger = recordingLogger();
  let closed = false;
  const server = new Server({ logger });
  server.register({
    // Thrown, not rejected, and with no string form at all.
    beforeShutdown() {
      throw Object.create(null);
    },
    shutdown: () => Promise.reject(new Error("hook bug")),
  }, { name: "broken" });
  server.register({ shutdown: () => void (closed = true) }, { name: "last" });
  await using t = await startServer(server);
  const peer = await t.connectRaw();
  await within(server.shutdown(), { message: "shutdown" });
  assert.equal(await peer.closedByServer(), true);
  assert.equal(closed, true);
  assert.deepEqual(logger.at("error"), [
    "component broken beforeShutdown hook failed: [object Object]",
    "component broken shutdown hook failed: hook bug",
  ]);
});
