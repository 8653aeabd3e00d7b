// Security limits: maxSessions, the per-session subscription limit, the
// filter size, UNIX socket file mode and stale files, and the handshake
// hook each refuse what they should, with a clear reason; a session's
// concurrent handlers in flight are bounded.

import assert from "node:assert/strict";
import {
  bytesUntilClosed,
  concat,
  Gate,
  PING,
  PONG,
  RawClient,
  recordingLogger,
  REQUEST,
  requestFrame,
  RESPONSE,
  startServer,
  SUBSCRIBE,
  waitFor,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import { Server } from "./server.ts";
import type { HandshakeInfo } from "./options.ts";

async function ping(peer: RawClient, id: number): Promise<void> {
  const res = await peer.call({ requestId: id, requestType: PING });
  assert.equal(res.responseType, PONG);
  assert.equal(res.requestId, id);
}

Deno.test("Server refuses connections beyond maxSessions at once and counts them", async () => {
  const logger = recordingLogger();
  await using t = await startServer(undefined, { maxSessions: 2, logger });
  const { server } = t;
  const a = await t.connectRaw();
  const b = await t.connectRaw();
  await ping(a, 1);
  await ping(b, 2);

  const extra: RawClient[] = [];
  for (let i = 0; i < 5; i++) extra.push(await t.connectRaw());
  for (const peer of extra) {
    await peer.send({ requestId: 9, requestType: PING });
    assert.equal(await bytesUntilClosed(peer.conn), 0);
  }
  assert.equal(server.stats().sessionsRefused, 5);
  assert.equal(server.stats().sessions, 2);
  assert.ok(logger.lines.some((l) => l.includes("maxSessions (2) reached")));
  await ping(a, 3);

  // A freed slot can be taken again.
  a.close();
  await waitFor(() => server.stats().sessions === 1, {
    message: "the closed session to leave",
  });
  const c = await t.connectRaw();
  await ping(c, 4);
  await ping(b, 5);
});

Deno.test("Server with maxSubscriptionsPerSession 0 refuses a session's first subscription too", async () => {
  await using t = await startServer((server) => server.topic("/t"), {
    maxSubscriptionsPerSession: 0,
  });
  const peer = await t.connectRaw();
  const refused = await peer.call({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  });
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(refused.responseMessage, /Subscription limit of 0 per session/);
  assert.equal(t.server.stats().subscriptions, 0);
});

Deno.test("Server refuses a subscription past maxSubscriptionsPerSession with NOT_AUTHORIZED", async () => {
  await using t = await startServer((server) => server.topic("/t"), {
    maxSubscriptionsPerSession: 2,
  });
  const { server } = t;
  const peer = await t.connectRaw();
  const sub = (id: number) =>
    peer.call({
      requestId: id,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/t" },
    });

  assert.equal((await sub(1)).responseStatus, Status.OK);
  assert.equal((await sub(2)).responseStatus, Status.OK);
  const refused = await sub(3);
  assert.equal(refused.requestId, 3);
  assert.equal(refused.responseType, RESPONSE);
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
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/t" },
  });
  assert.equal(unsub.responseStatus, Status.OK);
  assert.equal((await sub(3)).responseStatus, Status.OK);
  assert.equal(server.stats().subscriptions, 2);

  // The session went on through all of it.
  await ping(peer, 10);
  peer.close();
  await waitFor(() => server.stats().subscriptions === 0, {
    message: "the session's subscriptions to end",
  });
});

Deno.test("Server refuses a SUBSCRIBE whose filter is over maxFilterSize with NOT_AUTHORIZED, saying the limit", async () => {
  await using t = await startServer((server) => {
    server.topic("/t", { filter: () => true });
    server.topic("/small", { filter: () => true });
  });
  const peer = await t.connectRaw();
  const sub = (id: number, size: number, path = "/t") =>
    peer.call({
      requestId: id,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: path },
      data: new Uint8Array(size).fill(1),
    });
  assert.equal((await sub(1, 4096)).responseStatus, Status.OK);
  const refused = await sub(2, 4097);
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(refused.responseMessage, /filter of 4097 bytes/);
  assert.match(refused.responseMessage, /maxFilterSize of 4096 bytes/);
  assert.equal(t.server.stats().subscriptions, 1);
  await ping(peer, 3);

  await using small = await startServer((server) => server.topic("/t"), {
    maxFilterSize: 16,
  });
  const other = await small.connectRaw();
  const answer = await other.call({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
    data: new Uint8Array(17),
  });
  assert.equal(answer.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(answer.responseMessage, /maxFilterSize of 16 bytes/);
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
      const peer = await RawClient.connect(listener.addr);
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
    const peer = await RawClient.connect(listener.addr);
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
  const slow = new Gate();
  let verdict: "accept" | "refuse" | "throw" | "slow-refuse" = "accept";
  await using t = await startServer(undefined, {
    logger,
    handshake: async (info) => {
      seen.push(info);
      if (verdict === "throw") throw new Error("banned address");
      if (verdict === "slow-refuse") {
        await slow.opened;
        return false;
      }
      return verdict === "accept";
    },
  });
  const { server } = t;

  const ok = await t.connectRaw();
  await ping(ok, 1);
  assert.equal(seen[0].transport, "tcp");
  assert.equal(
    seen[0].remoteAddr.port,
    (ok.conn.localAddr as Deno.NetAddr).port,
  );

  for (const v of ["refuse", "throw", "slow-refuse"] as const) {
    verdict = v;
    const peer = await t.connectRaw();
    await peer.send({ requestId: 2, requestType: PING });
    if (v === "slow-refuse") {
      // While the hook decides, the peer is no session and is not read.
      await waitFor(() => seen.length === 4, { message: "the hook's call" });
      assert.equal(server.stats().sessions, 1);
      assert.equal(server.stats().framesIn, 1);
      slow.open();
    }
    assert.equal(await bytesUntilClosed(peer.conn), 0, `${v}: got an answer`);
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
});

Deno.test("Server bounds a session's concurrent handlers in flight: a pipelining peer waits", async () => {
  const gate = new Gate();
  let running = 0;
  let most = 0;
  await using t = await startServer((server) => {
    server.handle("/slow", async (ctx) => {
      most = Math.max(most, ++running);
      await gate.opened;
      running--;
      return ctx.data.subarray(0, 1);
    }, { concurrent: true });
  }, { handlerTimeout: 0 });
  const peer = await t.connectRaw();
  // 3,000 small requests (over the count bound), then 64 KiB ones (over
  // the bytes bound): none answered until the gate opens.
  const small = (id: number) =>
    requestFrame({
      requestId: id,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/slow" },
      data: new Uint8Array([id & 0xff]),
    });
  const frames: Uint8Array[] = [];
  for (let id = 1; id <= 3000; id++) frames.push(small(id));
  const writing = peer.write(concat(...frames));
  // 1,024 run on their own, and the read waits for the next one.
  await waitFor(() => running >= 1025, { message: "handlers to start" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(most, 1025, `${most} concurrent handlers ran at once`);
  gate.open();
  await writing;
  const answered = new Set<number>();
  while (answered.size < 3000) {
    const res = await peer.read();
    assert.equal(res.responseStatus, Status.OK);
    answered.add(res.requestId);
  }
});

Deno.test("Server counts a concurrent handler past its time limit until it settles: the read waits on", async () => {
  const gate = new Gate();
  let running = 0;
  await using t = await startServer((server) => {
    server.handle("/stuck", async () => {
      running++;
      await gate.opened;
      running--;
    }, { concurrent: true });
  }, { handlerTimeout: 100 });
  try {
    const peer = await t.connectRaw();
    const frames: Uint8Array[] = [];
    for (let id = 1; id <= 2000; id++) {
      frames.push(requestFrame({
        requestId: id,
        requestType: REQUEST,
        pathOneof: { case: "path", value: "/stuck" },
        data: new Uint8Array([1]),
      }));
    }
    void peer.write(concat(...frames)).catch(() => {});
    await waitFor(() => running >= 1025, { message: "handlers to start" });
    // Their answers (time limit passed) go out, but they still run: at most
    // one more starts per time limit, not all 2,000.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.ok(running <= 1025 + 12, `${running} handlers run at once`);
  } finally {
    gate.open();
  }
});

Deno.test("Server bounds the request bytes a session's concurrent handlers hold", async () => {
  let gate = new Gate();
  let running = 0;
  let most = 0;
  await using t = await startServer((server) => {
    server.handle("/slow", async () => {
      most = Math.max(most, ++running);
      await gate.opened;
      running--;
    }, { concurrent: true });
  }, { handlerTimeout: 0, outgoingBufferSize: 1 << 20 });
  const peer = await t.connectRaw();
  const data = new Uint8Array(64 << 10);
  const frames: Uint8Array[] = [];
  for (let id = 1; id <= 64; id++) {
    frames.push(
      requestFrame({
        requestId: id,
        requestType: REQUEST,
        pathOneof: { case: "path", value: "/slow" },
        data,
      }),
    );
  }
  // 4 MiB of requests: 16 handlers hold 1 MiB (outgoingBufferSize) on
  // their own, and the read waits for the next one.
  const writing = peer.write(concat(...frames));
  await waitFor(() => running >= 17, { message: "handlers to start" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(most, 17, `${most} handlers held 64 KiB each at once`);
  const open = gate;
  gate = new Gate();
  gate.open();
  open.open();
  await writing;
  for (let n = 0; n < 64; n++) {
    assert.equal((await peer.read()).responseStatus, Status.OK);
  }
});
