import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import {
  decodeFrames,
  FakeTime,
  MemoryStream,
  PONG,
  RESPONSE,
  UPDATE,
  waitFor,
  within,
} from "../testing/mod.ts";
import { codec } from "../wasm/codec.ts";
import { Status } from "../wasm/wire.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import {
  FRAME_OVERHEAD,
  Outbox,
  SLAB_MAX_FLUSH,
  SLAB_SIZE,
} from "./_outbox.ts";
import { newStats, type ServerStats } from "./stats.ts";

interface Fixture {
  stream: MemoryStream;
  stats: ServerStats;
  errors: unknown[];
  out: Outbox;
}

function outbox(lowWater = 1 << 20): Fixture {
  const stream = new MemoryStream();
  const stats = newStats();
  const errors: unknown[] = [];
  const out = new Outbox(stream, codec, stats, lowWater, (e) => errors.push(e));
  return { stream, stats, errors, out };
}

/** Queues a RESPONSE carrying `data`, counted as the session counts it. */
function respond(out: Outbox, id: number, data = new Uint8Array()): void {
  out.push(id, RESPONSE, Status.OK, undefined, data, data.length + 32);
}

function decode(bytes: Uint8Array) {
  return decodeFrames(NanoRPCResponseSchema, bytes);
}

Deno.test("Outbox writes the frames queued while corked in one write when uncorked", async () => {
  const { stream, stats, out } = outbox();
  out.cork();
  respond(out, 1, new Uint8Array([1]));
  out.push(2, PONG, Status.OK, undefined, new Uint8Array(), FRAME_OVERHEAD);
  out.push(
    3,
    RESPONSE,
    Status.NOT_FOUND,
    "No handler for path /x",
    new Uint8Array(),
    100,
  );
  out.push(4, UPDATE, Status.OK, undefined, new Uint8Array([4, 4]), 34);
  await Promise.resolve();
  assert.equal(stream.writes.length, 0, "a corked outbox wrote");
  out.uncork();
  assert.equal(stream.writes.length, 1);
  const frames = decode(stream.writes[0]);
  assert.deepEqual(
    frames.map((f) => [f.requestId, f.responseType, f.responseStatus]),
    [
      [1, RESPONSE, Status.OK],
      [2, PONG, Status.OK],
      [3, RESPONSE, Status.NOT_FOUND],
      [4, UPDATE, Status.OK],
    ],
  );
  assert.deepEqual(frames[0].data, new Uint8Array([1]));
  assert.equal(frames[2].responseMessage, "No handler for path /x");
  assert.deepEqual(frames[3].data, new Uint8Array([4, 4]));
  assert.equal(stats.framesOut, 4);
});

Deno.test("Outbox writes the frames queued in one turn together, a microtask later", async () => {
  const { stream, out } = outbox();
  for (let id = 1; id <= 3; id++) respond(out, id);
  assert.equal(stream.writes.length, 0, "written before the turn ended");
  await Promise.resolve();
  assert.equal(stream.writes.length, 1);
  assert.deepEqual(decode(stream.writes[0]).map((f) => f.requestId), [1, 2, 3]);
  respond(out, 4);
  await Promise.resolve();
  assert.equal(stream.writes.length, 2);
});

Deno.test("Outbox copies the data when it encodes, so the caller may reuse its buffer", () => {
  const { stream, out } = outbox();
  const readBuffer = new Uint8Array([1, 2, 3]);
  out.cork();
  respond(out, 1, readBuffer.subarray(0, 2));
  out.uncork();
  readBuffer.fill(9);
  assert.deepEqual(decode(stream.written)[0].data, new Uint8Array([1, 2]));
});

Deno.test("Outbox counts what it holds: the estimate, then the encoded bytes until written", async () => {
  const { stream, stats, out } = outbox();
  stream.hold();
  out.cork();
  respond(out, 1, new Uint8Array(100));
  respond(out, 2, new Uint8Array(50));
  assert.equal(out.queued, 100 + 32 + 50 + 32);
  out.uncork();
  const written = stream.writes[0].length;
  assert.equal(out.queued, written, "in flight, counted as encoded");
  assert.equal(stats.bytesOut, 0);
  // Queued behind the write in flight: the estimate is added.
  respond(out, 3, new Uint8Array(10));
  assert.equal(out.queued, written + 42);
  stream.release();
  await waitFor(() => out.queued === 0, { message: "the outbox to empty" });
  assert.equal(stream.writes.length, 2);
  assert.equal(stats.bytesOut, stream.written.length);
  assert.equal(stats.framesOut, 3);
});

Deno.test("Outbox.drained waits for the backlog to fall to the low-water mark", async () => {
  const { stream, out } = outbox(1000);
  assert.equal(await within(out.drained()), undefined, "idle: drained");
  stream.hold();
  respond(out, 1, new Uint8Array(3000));
  await Promise.resolve();
  respond(out, 2, new Uint8Array(3000));
  await Promise.resolve();
  assert.equal(stream.writes.length, 1, "the second chunk waits its turn");
  let drained = false;
  const waiting = out.drained().then(() => drained = true);
  // The first write completes (the second is held): 3 KB are still
  // queued, above the mark.
  stream.release();
  stream.hold();
  await waitFor(() => stream.writes.length === 2, {
    message: "the second write",
  });
  assert.ok(out.queued > 1000);
  assert.equal(drained, false, "woken above the low-water mark");
  stream.release();
  await within(waiting, { message: "the drain" });
  assert.equal(out.queued, 0);
});

Deno.test("Outbox.close flushes and waits for the write, at most the time limit", async () => {
  using time = new FakeTime();
  const { stream, out } = outbox();
  stream.hold();
  out.cork();
  respond(out, 1);
  let closed = false;
  const closing = out.close(2000).then(() => closed = true);
  assert.equal(stream.writes.length, 1, "close flushed what was corked");
  await time.tickAsync(1999);
  assert.equal(closed, false, "close gave up before its time limit");
  await time.tickAsync(1);
  assert.equal(closed, true, "close outlived its time limit");
  await closing;
  assert.equal(stream.pendingWrites, 1, "the write is still stuck");
});

Deno.test("Outbox.close returns as soon as everything is written", async () => {
  using time = new FakeTime();
  const { stream, out } = outbox();
  stream.hold();
  respond(out, 1);
  await Promise.resolve();
  const closing = out.close(2000);
  stream.release();
  await within(closing, { message: "close" });
  assert.equal(time.elapsed, 0);
  assert.equal(time.pending, 0, "close left its timer armed");
  assert.equal(decode(stream.written).length, 1);
});

Deno.test("Outbox reports a failed write to onError and stops waiting for it", async () => {
  const { stream, errors, out } = outbox(0);
  stream.hold();
  respond(out, 1);
  await Promise.resolve();
  const waiting = out.drained();
  const broken = new Error("broken pipe");
  stream.fail(broken);
  await within(waiting, { message: "the drain after a failed write" });
  assert.deepEqual(errors, [broken]);
  assert.equal(await within(out.drained()), undefined);
});

Deno.test("Outbox appends the frames flushed during a write to one buffer and writes it next", async () => {
  const { stream, out } = outbox();
  stream.hold();
  respond(out, 1);
  await Promise.resolve();
  for (let id = 2; id <= 4; id++) {
    respond(out, id, new Uint8Array([id]));
    await Promise.resolve();
  }
  assert.equal(stream.writes.length, 1, "wrote while a write was in flight");
  stream.release();
  await waitFor(() => out.queued === 0, { message: "the outbox to empty" });
  assert.equal(stream.writes.length, 2);
  assert.deepEqual(decode(stream.writes[1]).map((f) => f.requestId), [2, 3, 4]);
});

/** A stream that keeps the very arrays it is given, and copies of them. */
class KeepingStream implements ByteStream {
  readonly transport = "memory";
  readonly remoteAddr = { transport: "memory" };
  readonly given: Uint8Array[] = [];
  readonly copies: Uint8Array[] = [];
  read(): Promise<number | null> {
    return Promise.resolve(null);
  }
  write(data: Uint8Array): Promise<void> {
    this.given.push(data);
    this.copies.push(data.slice());
    return Promise.resolve();
  }
  close(): void {}
}

Deno.test("Outbox encodes the small flushes of every session back to back into one shared slab", async () => {
  const streams = [new KeepingStream(), new KeepingStream()];
  const outs = streams.map((stream) =>
    new Outbox(stream, codec, newStats(), 1 << 20, () => {})
  );
  for (let id = 1; id <= 3; id++) {
    respond(outs[id % 2], id, new Uint8Array([id, id]));
    await Promise.resolve();
  }
  await waitFor(() => outs.every((out) => out.queued === 0), {
    message: "both outboxes to empty",
  });
  const given = [...streams[0].given, ...streams[1].given];
  assert.equal(given.length, 3);
  const slab = given[0].buffer;
  assert.equal(slab.byteLength, SLAB_SIZE);
  assert.ok(given.every((bytes) => bytes.buffer === slab), "not one slab");
  // Each write carried its own frames, and no two overlap.
  assert.deepEqual(
    streams.map((s) => s.copies.map((b) => decode(b).map((f) => [...f.data]))),
    [[[[2, 2]]], [[[1, 1]], [[3, 3]]]],
  );
  const spans = given.map((b) => [b.byteOffset, b.byteOffset + b.length])
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i][0] >= spans[i - 1][1], "two writes share bytes");
  }
});

Deno.test("Outbox writes a flush too large for a slab from a buffer of its own", async () => {
  const { stream, out } = outbox();
  const big = new Uint8Array(SLAB_MAX_FLUSH * 2).map((_, i) => i & 0xff);
  out.cork();
  respond(out, 1, big);
  respond(out, 2, new Uint8Array([2]));
  out.uncork();
  await waitFor(() => out.queued === 0, { message: "the outbox to empty" });
  const frames = decode(stream.written);
  assert.deepEqual(frames.map((f) => f.requestId), [1, 2]);
  assert.deepEqual(frames[0].data, big);
});

Deno.test("Outbox writes a frame encoded already as it is when it flushes alone, and copies it among others", async () => {
  const stream = new KeepingStream();
  const out = new Outbox(stream, codec, newStats(), 1 << 20, () => {});
  const frame = codec.encodeResponses([7, UPDATE, Status.OK], [undefined], [
    new Uint8Array([7]),
  ], 1);
  out.pushFrame(frame, 40);
  await waitFor(() => out.queued === 0, { message: "the first write" });
  assert.equal(stream.given[0], frame, "the shared frame was copied");
  out.cork();
  respond(out, 1, new Uint8Array([1]));
  out.pushFrame(frame, 40);
  out.uncork();
  await waitFor(() => out.queued === 0, { message: "the second write" });
  assert.notEqual(stream.given[1].buffer, frame.buffer);
  assert.deepEqual(
    decode(stream.copies[1]).map((f) => [f.requestId, f.responseType]),
    [[1, RESPONSE], [7, UPDATE]],
  );
});

/** Keeps what it is given (no copy) and settles each write when told. */
class HeldStream extends KeepingStream {
  readonly settle: (() => void)[] = [];
  override write(data: Uint8Array): Promise<void> {
    super.write(data);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.settle.push(resolve);
    return promise;
  }
}

Deno.test("Outbox reuses a full slab's bytes only once every write viewing them has settled", async () => {
  const held = new HeldStream();
  const slow = new Outbox(held, codec, newStats(), 1 << 20, () => {});
  const fast = new KeepingStream();
  const other = new Outbox(fast, codec, newStats(), 1 << 20, () => {});
  respond(slow, 1, new Uint8Array(100).fill(7));
  await waitFor(() => held.given.length === 1, { message: "the held write" });
  const pinned = held.given[0].buffer;
  const payload = new Uint8Array(SLAB_MAX_FLUSH - 64).fill(9);
  // Enough flushes to fill several slabs while the held write views one.
  for (let id = 1; id <= 5 * (SLAB_SIZE / SLAB_MAX_FLUSH); id++) {
    respond(other, id, payload);
    await waitFor(() => other.queued === 0, { message: `flush ${id}` });
  }
  const [from, to] = [held.given[0].byteOffset, held.given[0].byteOffset + 100];
  assert.ok(
    fast.given.every((b) =>
      b.buffer !== pinned || b.byteOffset >= to ||
      b.byteOffset + b.length <= from
    ),
    "a write shares bytes with the one still in progress",
  );
  assert.deepEqual(held.given[0], held.copies[0], "the held bytes changed");
  held.settle[0]();
  await waitFor(() => slow.queued === 0, { message: "the held write to end" });
  const before = fast.given.length;
  for (let id = 1; id <= 5 * (SLAB_SIZE / SLAB_MAX_FLUSH); id++) {
    respond(other, id, payload);
    await waitFor(() => other.queued === 0, { message: `flush ${id}` });
  }
  // Ten slabs' worth of flushes went through two slabs: the one the held
  // write pinned, and one reused whenever it filled.
  const buffers = new Set(fast.given.map((b) => b.buffer));
  assert.ok(fast.given.length > before);
  assert.equal(buffers.size, 2, "full slabs were not reused");
  // Every write carried the frames it was given.
  for (const copy of fast.copies) {
    assert.ok(decode(copy).every((f) => f.data.every((b) => b === 9)));
  }
});
