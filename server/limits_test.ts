// Security limits: maxSessions, the per-session
// subscription limit, UNIX socket file mode and stale files, and the
// handshake hook each refuse what they should, with a clear reason.

import assert from "node:assert/strict";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { RawPeer } from "./_testing.ts";
import type { Logger } from "./logger.ts";
import { Server } from "./server.ts";
import type { HandshakeInfo } from "./options.ts";

/** A logger that keeps every line, to check what the server said. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  return { lines, error: keep, warn: keep, info: keep, debug: keep };
}

/** Polls `check` every 5 ms until it holds or `ms` pass. */
async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads until the server closes; returns how many bytes came first. */
async function bytesUntilClosed(peer: RawPeer, ms = 2000): Promise<number> {
  const timer = setTimeout(() => peer.close(), ms);
  const buf = new Uint8Array(4096);
  let total = 0;
  try {
    for (let n; (n = await peer.conn.read(buf)) !== null;) total += n;
    return total;
  } catch {
    throw new Error(`the server did not close the connection within ${ms} ms`);
  } finally {
    clearTimeout(timer);
    peer.close();
  }
}

async function ping(peer: RawPeer, id: number): Promise<void> {
  const res = await peer.call({ requestId: id, requestType: RequestType.PING });
  assert.equal(res.responseType, ResponseType.PONG);
  assert.equal(res.requestId, id);
}

Deno.test("Server refuses connections beyond maxSessions at once and counts them", async () => {
  const logger = recordingLogger();
  await using server = new Server({ maxSessions: 2, logger });
  const { addr } = await server.listen({ port: 0 });
  const a = await RawPeer.connect(addr);
  const b = await RawPeer.connect(addr);
  await ping(a, 1);
  await ping(b, 2);

  const extra: RawPeer[] = [];
  for (let i = 0; i < 5; i++) extra.push(await RawPeer.connect(addr));
  for (const peer of extra) {
    await peer.send({ requestId: 9, requestType: RequestType.PING });
    assert.equal(await bytesUntilClosed(peer), 0);
  }
  assert.equal(server.stats().sessionsRefused, 5);
  assert.equal(server.stats().sessions, 2);
  assert.ok(logger.lines.some((l) => l.includes("maxSessions (2) reached")));
  await ping(a, 3);

  // A freed slot can be taken again.
  a.close();
  await waitFor(() => server.stats().sessions === 1);
  const c = await RawPeer.connect(addr);
  await ping(c, 4);
  await ping(b, 5);
  b.close();
  c.close();
});

Deno.test("Server refuses a subscription past maxSubscriptionsPerSession with NOT_AUTHORIZED", async () => {
  await using server = new Server({ maxSubscriptionsPerSession: 2 });
  server.topic("/t");
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);
  const sub = (id: number) =>
    peer.call({
      requestId: id,
      requestType: RequestType.SUBSCRIBE,
      pathOneof: { case: "path", value: "/t" },
    });

  assert.equal((await sub(1)).responseStatus, Status.OK);
  assert.equal((await sub(2)).responseStatus, Status.OK);
  const refused = await sub(3);
  assert.equal(refused.requestId, 3);
  assert.equal(refused.responseType, ResponseType.RESPONSE);
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(refused.responseMessage, /Subscription limit of 2 per session/);
  assert.match(refused.responseMessage, /unsubscribe first/);
  assert.equal(server.stats().subscriptions, 2);

  // Subscribing again with a live id replaces it and stays within the limit.
  assert.equal((await sub(2)).responseStatus, Status.OK);
  assert.equal(server.stats().subscriptions, 2);

  // The refused id got no subscription: a publish reaches ids 1 and 2 only.
  server.publish("/t", new Uint8Array([7]));
  const ids = [(await peer.read()).requestId, (await peer.read()).requestId];
  assert.deepEqual(ids.sort(), [1, 2]);

  // Unsubscribing frees a slot.
  const unsub = await peer.call({
    requestId: 1,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "path", value: "/t" },
  });
  assert.equal(unsub.responseStatus, Status.OK);
  assert.equal((await sub(3)).responseStatus, Status.OK);
  assert.equal(server.stats().subscriptions, 2);

  // The session went on through all of it.
  await ping(peer, 10);
  peer.close();
  await waitFor(() => server.stats().subscriptions === 0);
});

Deno.test("Server gives a UNIX socket the file mode asked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = new Server();
    for (const mode of [0o600, 0o660]) {
      const path = `${dir}/mode-${mode.toString(8)}.sock`;
      const listener = await server.listen({ path, mode });
      const info = await Deno.stat(path);
      assert.equal(info.isSocket, true);
      assert.equal(info.mode! & 0o777, mode);
      const peer = await RawPeer.connect(listener.addr);
      await ping(peer, mode);
      peer.close();
    }
    await server.shutdown();
    for (const entry of Deno.readDirSync(dir)) {
      assert.fail(`socket file ${entry.name} left after shutdown`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Server replaces a stale UNIX socket file and refuses a non-socket path", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/stale.sock`;
  try {
    // A process that dies without cleaning up leaves its socket file.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const l = Deno.listen({ transport: "unix", path: ${
          JSON.stringify(path)
        } });` +
        `console.log("ready"); for await (const c of l) c.close();`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    assert.equal((await Deno.lstat(path)).isSocket, true);
    await assert.rejects(Deno.connect({ transport: "unix", path }));

    await using server = new Server();
    const listener = await server.listen({ path });
    const peer = await RawPeer.connect(listener.addr);
    await ping(peer, 1);
    peer.close();

    const file = `${dir}/not-a-socket`;
    await Deno.writeTextFile(file, "keep me");
    await assert.rejects(
      server.listen({ path: file }),
      /exists and is not a socket/,
    );
    assert.equal(await Deno.readTextFile(file), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Server refuses a connection its handshake hook rejects, before any frame", async () => {
  const logger = recordingLogger();
  const seen: HandshakeInfo[] = [];
  let verdict: "accept" | "refuse" | "throw" | "slow-refuse" = "accept";
  await using server = new Server({
    logger,
    handshake: async (info) => {
      seen.push(info);
      if (verdict === "throw") throw new Error("banned address");
      if (verdict === "slow-refuse") {
        await new Promise((r) => setTimeout(r, 20));
        return false;
      }
      return verdict === "accept";
    },
  });
  const { addr } = await server.listen({ port: 0 });

  const ok = await RawPeer.connect(addr);
  await ping(ok, 1);
  assert.equal(seen[0].transport, "tcp");
  assert.equal(
    seen[0].remoteAddr.port,
    (ok.conn.localAddr as Deno.NetAddr).port,
  );

  for (const v of ["refuse", "throw", "slow-refuse"] as const) {
    verdict = v;
    const peer = await RawPeer.connect(addr);
    await peer.send({ requestId: 2, requestType: RequestType.PING });
    assert.equal(await bytesUntilClosed(peer), 0, `${v}: got an answer`);
  }
  assert.equal(server.stats().sessionsRefused, 3);
  assert.equal(server.stats().sessionsOpened, 1);
  assert.ok(
    logger.lines.some((l) => l.includes("handshake hook returned false")),
  );
  assert.ok(
    logger.lines.some((l) =>
      l.includes("handshake hook threw: banned address")
    ),
  );
  await ping(ok, 3);
  ok.close();
});
