// What a session whose peer stopped reading holds in memory: its queued
// frames, bounded by the outgoing buffer, and never the shared encoding
// slabs that other sessions' traffic moves on to.

import assert from "node:assert/strict";
import { codec } from "../wasm/codec.ts";
import { FRAME_OVERHEAD, Outbox, SLAB_SIZE } from "./_outbox.ts";
import { newStats } from "./stats.ts";
import type { ByteStream } from "../transport/byte_stream.ts";

function stream(write: () => Promise<void>): ByteStream {
  return {
    transport: "memory",
    remoteAddr: { transport: "memory" },
    read: () => new Promise(() => {}),
    write,
    close() {},
  };
}

Deno.test("Outbox of a peer that stopped reading pins no shared slab per queued update", async () => {
  // A peer that stops reading until `release`: every chunk the outbox held
  // meanwhile is written afterwards, which shows what buffer it was kept in.
  const release = Promise.withResolvers<void>();
  const held = new Set<ArrayBufferLike>();
  let stuck = true;
  const slow = stream(() => Promise.resolve());
  const peer: ByteStream = {
    ...slow,
    write: (data) => {
      if (data.buffer.byteLength === SLAB_SIZE) held.add(data.buffer);
      return stuck ? release.promise : Promise.resolve();
    },
  };
  const healthy = stream(() => Promise.resolve());
  const stats = newStats();
  const a = new Outbox(peer, codec, stats, 1 << 20, () => {});
  const b = new Outbox(healthy, codec, stats, 1 << 20, () => {});
  const update = new Uint8Array(8);
  const echo = new Uint8Array(16_000);
  const rounds = 500;
  for (let i = 0; i < rounds; i++) {
    a.push(i + 1, 3, 1, undefined, update, update.length + FRAME_OVERHEAD);
    a.flush();
    // Other sessions' traffic moves the shared slab on between flushes.
    for (let j = 0; j < 4; j++) {
      b.push(1, 2, 1, undefined, echo, echo.length + FRAME_OVERHEAD);
      b.flush();
    }
    await Promise.resolve();
  }
  assert.ok(a.queued >= rounds * 8);
  stuck = false;
  release.resolve();
  await a.close(1000);
  assert.equal(a.queued, 0);
  // Only the write that was in flight when the peer stopped viewed a slab.
  assert.ok(held.size <= 1, `the stuck outbox held ${held.size} shared slabs`);
});
