// UNIX listeners: a live server's socket is never removed, even when that
// server is too busy to accept; paths that cannot work are refused clearly.

import assert from "node:assert/strict";
import { silentLogger } from "../testing/mod.ts";
import { Server } from "./server.ts";

/**
 * Connects to the UNIX socket at `path` until its backlog is full (Linux
 * then fails a connect with EAGAIN); the queued connections.
 */
async function fillBacklog(path: string): Promise<Deno.Conn[]> {
  const queued: Deno.Conn[] = [];
  for (let i = 0; i < 10_000; i++) {
    try {
      queued.push(await Deno.connect({ transport: "unix", path }));
    } catch (err) {
      assert.ok(err instanceof Deno.errors.WouldBlock, String(err));
      return queued;
    }
  }
  throw new Error("10,000 connections and the backlog is not full");
}

Deno.test({
  name:
    "Server.listen never takes over a UNIX socket whose server has a full backlog",
  // Linux fails a connect to a full backlog with EAGAIN; others refuse it.
  ignore: Deno.build.os !== "linux",
}, async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  // A live server that is not accepting: connects fail once its backlog
  // is full, which does not make its socket stale.
  const busy = Deno.listen({ transport: "unix", path });
  const ino = (await Deno.lstat(path)).ino;
  let queued: Deno.Conn[] = [];
  const server = new Server({ logger: silentLogger });
  try {
    queued = await fillBacklog(path);
    await assert.rejects(server.listen({ path }), (err: Error) => {
      assert.ok(err instanceof Deno.errors.AddrInUse, String(err));
      assert.ok(err.message.includes(path), err.message);
      return true;
    });
    assert.equal((await Deno.lstat(path)).ino, ino);
  } finally {
    for (const conn of queued) conn.close();
    await server.shutdown();
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "A drained server's shutdown leaves the socket of the busy server that took its path",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const old = new Server({ logger: silentLogger });
  let next: Deno.Listener | undefined;
  let queued: Deno.Conn[] = [];
  try {
    await old.listen({ path });
    await old.drain({ window: 0 });
    next = Deno.listen({ transport: "unix", path });
    const ino = (await Deno.lstat(path)).ino;
    queued = await fillBacklog(path);
    await old.shutdown();
    assert.equal((await Deno.lstat(path)).ino, ino);
  } finally {
    for (const conn of queued) conn.close();
    await old.shutdown();
    next?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Server.listen refuses an empty UNIX path and names a path too long to bind", async () => {
  const dir = await Deno.makeTempDir();
  const server = new Server({ logger: silentLogger });
  try {
    await assert.rejects(server.listen({ path: "" }), TypeError);
    const long = `${dir}/${"s".repeat(120)}.sock`;
    await assert.rejects(server.listen({ path: long }), (err: Error) => {
      assert.ok(err instanceof TypeError, String(err));
      assert.ok(err.message.includes(`unix://${long}`), err.message);
      return true;
    });
    assert.equal(server.listeners.length, 0);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
