import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import {
  decodeFrames,
  MemoryStream,
  RESPONSE,
  waitFor,
} from "../testing/mod.ts";
import { WRITE_SOME, type WritesSome } from "../transport/_write_some.ts";
import { codec } from "../wasm/codec.ts";
import { Status } from "../wasm/wire.ts";
import { Outbox } from "./_outbox.ts";
import { newStats } from "./stats.ts";

/**
 * A stream with the write-some fast path that writes at most `most` bytes
 * per call, a macrotask later, as a slow socket does; `ByteStream.write`
 * must not be used.
 */
class ShortWrites extends MemoryStream implements WritesSome {
  readonly #most: number;
  calls = 0;
  /** What the next call resolves with instead of writing, once. */
  next: number | undefined;

  constructor(most: number) {
    super();
    this.#most = most;
  }

  override write(): Promise<void> {
    return Promise.reject(new Error("write() used instead of the fast path"));
  }

  [WRITE_SOME](data: Uint8Array): Promise<number> {
    this.calls++;
    const forced = this.next;
    this.next = undefined;
    const n = forced ?? Math.min(this.#most, data.length);
    this.writes.push(data.slice(0, Math.max(n, 0)));
    return new Promise((resolve) => setTimeout(() => resolve(n), 0));
  }
}

function setup(most: number) {
  const stream = new ShortWrites(most);
  const stats = newStats();
  const errors: unknown[] = [];
  const out = new Outbox(stream, codec, stats, 1 << 20, (e) => errors.push(e));
  return { stream, stats, errors, out };
}

Deno.test("Outbox writes the rest of a short write itself on a stream with the write-some fast path", async () => {
  const { stream, stats, errors, out } = setup(7);
  const payloads = [1, 2, 3].map((id) => new Uint8Array(40).fill(id));
  out.cork();
  payloads.forEach((data, i) =>
    out.push(i + 1, RESPONSE, Status.OK, undefined, data, data.length + 32)
  );
  out.uncork();
  // More frames while the first write is still going: they follow it.
  out.push(4, RESPONSE, Status.OK, undefined, new Uint8Array([4]), 33);
  await waitFor(() => out.queued === 0 && stream.written.length > 0);
  const frames = decodeFrames(NanoRPCResponseSchema, stream.written);
  assert.deepEqual(frames.map((f) => f.requestId), [1, 2, 3, 4]);
  assert.deepEqual(frames[1].data, payloads[1]);
  assert.equal(stats.bytesOut, stream.written.length);
  assert.ok(
    stream.calls > stream.written.length / 7 - 1,
    "one call per 7 bytes",
  );
  assert.deepEqual(errors, []);
});

Deno.test("Outbox reports a fast-path write that made no progress as failed", async () => {
  const { stream, errors, out } = setup(1024);
  stream.next = 0;
  out.push(1, RESPONSE, Status.OK, undefined, new Uint8Array([1]), 33);
  await waitFor(() => errors.length === 1);
  assert.match(String(errors[0]), /no progress/);
  assert.equal(out.queued, 0);
});
