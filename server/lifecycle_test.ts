// The server's lifecycle over real sockets: an HTTP listener bound while
// shutdown starts frees its port, and a drain ends with its sessions,
// whoever closes them.

import assert from "node:assert/strict";
import {
  RawClient,
  recordingLogger,
  silentLogger,
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
