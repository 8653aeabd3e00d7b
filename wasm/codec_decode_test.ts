// Wire rules (README, "Protocol") that the request decoder must accept, each
// checked against hand-built frames and against protobuf-es.

import assert from "node:assert/strict";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  Codec,
  codec,
  HEADER,
  MAX_FRAMES,
  PATH_HASH,
  PATH_NONE,
  PATH_STRING,
  RQ_ID,
  STRIDE,
} from "./codec.ts";
import { fnv1a } from "./wire.ts";
import {
  concat,
  decodeRequests,
  expectedRequest,
  frame,
  fromBinary,
  NanoRPCRequestSchema,
  offsetsInBounds,
  randomRequestBody,
  type RequestEntry,
  Rng,
  utf8,
  withoutFrame,
} from "./_test_utils.ts";

function body(write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  write(w);
  return w.finish();
}

/** Decodes one frame, asserts it is accepted, and checks it against protobuf-es. */
function decodeOne(b: Uint8Array): RequestEntry {
  const input = frame(b);
  const r = decodeRequests(input);
  assert.equal(r.error, 0, `unexpected error ${r.error}`);
  assert.equal(r.count, 1);
  assert.equal(r.consumed, input.length);
  assert.ok(offsetsInBounds(input.length));
  const e = r.entries[0];
  assert.deepEqual(
    withoutFrame(e),
    expectedRequest(fromBinary(NanoRPCRequestSchema, b)),
  );
  return e;
}

Deno.test("decodeRequests decodes fields in any order", () => {
  const e = decodeOne(body((w) => {
    w.tag(10, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3]));
    w.tag(4, WireType.LengthDelimited).string("/room/send");
    w.tag(2, WireType.Varint).int32(2);
    w.tag(1, WireType.Varint).int32(42);
  }));
  assert.equal(e.id, 42);
  assert.equal(e.type, 2);
  assert.equal(e.kind, PATH_STRING);
  assert.equal(e.hash, fnv1a("/room/send"));
  assert.deepEqual(e.path, utf8.encode("/room/send"));
  assert.deepEqual(e.data, new Uint8Array([1, 2, 3]));
});

Deno.test("decodeRequests keeps the last value of a repeated scalar field", () => {
  const e = decodeOne(body((w) => {
    w.tag(1, WireType.Varint).int32(1);
    w.tag(10, WireType.LengthDelimited).bytes(new Uint8Array([9, 9]));
    w.tag(2, WireType.Varint).int32(3);
    w.tag(1, WireType.Varint).int32(-7);
    w.tag(2, WireType.Varint).int32(1);
    w.tag(10, WireType.LengthDelimited).bytes(new Uint8Array([5]));
  }));
  assert.equal(e.id, -7);
  assert.equal(e.type, 1);
  assert.deepEqual(e.data, new Uint8Array([5]));
});

Deno.test("decodeRequests lets the last of path and path_hash win", () => {
  const hashLast = decodeOne(body((w) => {
    w.tag(4, WireType.LengthDelimited).string("/a");
    w.tag(3, WireType.Varint).uint32(0xdeadbeef);
  }));
  assert.equal(hashLast.kind, PATH_HASH);
  assert.equal(hashLast.hash, 0xdeadbeef);
  assert.equal(hashLast.path.length, 0);

  const pathLast = decodeOne(body((w) => {
    w.tag(3, WireType.Varint).uint32(0xdeadbeef);
    w.tag(4, WireType.LengthDelimited).string("/b");
  }));
  assert.equal(pathLast.kind, PATH_STRING);
  assert.equal(pathLast.hash, fnv1a("/b"));

  const twoPaths = decodeOne(body((w) => {
    w.tag(4, WireType.LengthDelimited).string("/first");
    w.tag(4, WireType.LengthDelimited).string("/second");
  }));
  assert.deepEqual(twoPaths.path, utf8.encode("/second"));
  assert.equal(twoPaths.hash, fnv1a("/second"));
});

Deno.test("decodeRequests treats a zero path_hash and an empty path as present", () => {
  const zeroHash = decodeOne(body((w) => w.tag(3, WireType.Varint).uint32(0)));
  assert.equal(zeroHash.kind, PATH_HASH);
  const emptyPath = decodeOne(
    body((w) => w.tag(4, WireType.LengthDelimited).string("")),
  );
  assert.equal(emptyPath.kind, PATH_STRING);
  assert.equal(emptyPath.hash, 0x811c9dc5);
  const none = decodeOne(new Uint8Array(0));
  assert.equal(none.kind, PATH_NONE);
});

Deno.test("decodeRequests skips unknown fields of wire types 0, 1, 2 and 5", () => {
  const e = decodeOne(body((w) => {
    w.tag(5, WireType.Varint).uint64(0xffffffffffffffffn); // 10 bytes
    w.tag(1, WireType.Varint).int32(7);
    w.tag(6, WireType.Bit64).fixed64(0x0102030405060708n);
    w.tag(536870911, WireType.LengthDelimited).bytes(new Uint8Array(300));
    w.tag(11, WireType.Bit32).fixed32(0xffffffff);
    w.tag(9, WireType.LengthDelimited).bytes(new Uint8Array(0));
    w.tag(2, WireType.Varint).int32(3);
  }));
  assert.equal(e.id, 7);
  assert.equal(e.type, 3);
});

Deno.test("decodeRequests round-trips a negative request_id sent as 10 bytes", () => {
  for (const id of [-1, -2, -128, -2147483648]) {
    const b = body((w) => w.tag(1, WireType.Varint).int32(id));
    assert.equal(b.length, 11, "tag + 10-byte sign-extended varint");
    assert.equal(decodeOne(b).id, id);
  }
});

Deno.test("decodeRequests truncates an over-wide varint to int32 like protobuf-es", () => {
  // 2^32 + 5 and 2^63 in request_id: int32 keeps the low 32 bits.
  for (const v of [(1n << 32n) + 5n, 1n << 63n, (1n << 64n) - 2n]) {
    decodeOne(body((w) => w.tag(1, WireType.Varint).uint64(v)));
    decodeOne(body((w) => w.tag(3, WireType.Varint).uint64(v)));
  }
});

Deno.test("decodeRequests accepts valid multi-byte UTF-8 paths and hashes their bytes", () => {
  const paths = [
    "/é",
    "/日本/語",
    "/😀/🎮",
    "\u0080\u07ff\u0800\ud7ff\ue000\uffff",
    "\u{10000}\u{10ffff}",
    "\ufeff/bom",
  ];
  for (const path of paths) {
    const e = decodeOne(
      body((w) => w.tag(4, WireType.LengthDelimited).string(path)),
    );
    const bytes = utf8.encode(path);
    assert.deepEqual(e.path, bytes);
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    assert.equal(e.hash, h >>> 0, path);
  }
});

Deno.test("decodeRequests reports absent path and data at offset 0 with length 0", () => {
  const input = concat([
    frame(body((w) => w.tag(1, WireType.Varint).int32(1))),
    frame(body((w) => w.tag(3, WireType.Varint).uint32(9))),
  ]);
  const r = decodeRequests(input);
  assert.equal(r.count, 2);
  assert.ok(offsetsInBounds(input.length));
  for (const e of r.entries) assert.equal(e.data.length, 0);
});

Deno.test("decodeRequests returns nothing for empty input", () => {
  const r = decodeRequests(new Uint8Array(0));
  assert.deepEqual(
    { count: r.count, consumed: r.consumed, error: r.error, need: r.need },
    { count: 0, consumed: 0, error: 0, need: 0 },
  );
});

Deno.test("decodeRequests carries a partial frame over with consumed and need", () => {
  const a = frame(body((w) => w.tag(1, WireType.Varint).int32(1)));
  const big = frame(
    body((w) => w.tag(10, WireType.LengthDelimited).bytes(new Uint8Array(200))),
  );
  const input = concat([a, big]);
  for (let cut = a.length; cut < input.length; cut++) {
    const r = decodeRequests(input.subarray(0, cut));
    assert.equal(r.count, 1);
    assert.equal(r.error, 0);
    assert.equal(r.consumed, a.length);
    // The 2-byte prefix of `big` must be complete before `need` is known.
    assert.equal(r.need, cut - a.length >= 2 ? big.length : 0, `cut ${cut}`);
  }
});

Deno.test("decodeRequests stops at MAX_FRAMES and resumes from consumed", () => {
  const one = frame(body((w) => w.tag(1, WireType.Varint).int32(5)));
  const total = MAX_FRAMES + 37;
  const input = concat(new Array(total).fill(one));
  const first = decodeRequests(input);
  assert.equal(first.count, MAX_FRAMES);
  assert.equal(first.consumed, MAX_FRAMES * one.length);
  assert.equal(first.error, 0);
  const rest = decodeRequests(input.subarray(first.consumed));
  assert.equal(rest.count, 37);
  assert.equal(rest.consumed, 37 * one.length);
});

/**
 * Feeds `chunks` to the decoder the way a session does: append each chunk
 * to the unconsumed tail and decode again. Returns every frame's entry with
 * stream-absolute offsets.
 */
function decodeStream(chunks: Uint8Array[]): RequestEntry[] {
  const out: RequestEntry[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  let base = 0;
  for (const chunk of chunks) {
    pending = concat([pending, chunk]);
    for (;;) {
      const r = decodeRequests(pending);
      assert.equal(r.error, 0);
      for (const e of r.entries) {
        out.push({ ...e, start: e.start + base, end: e.end + base });
      }
      pending = pending.slice(r.consumed);
      base += r.consumed;
      if (r.count < MAX_FRAMES) break;
    }
  }
  assert.equal(pending.length, 0, "no bytes left over at the end");
  return out;
}

Deno.test("decodeRequests yields the same frames for input split at every byte boundary", () => {
  const rng = new Rng(3);
  const input = concat(
    Array.from({ length: 24 }, () => frame(randomRequestBody(rng))),
  );
  const whole = decodeStream([input]);
  assert.equal(whole.length, 24);
  for (let cut = 0; cut <= input.length; cut++) {
    const split = decodeStream([input.subarray(0, cut), input.subarray(cut)]);
    assert.deepEqual(split, whole, `split at ${cut}`);
  }
});

Deno.test("decodeRequests yields the same frames for input fed in random chunks", () => {
  const rng = new Rng(4);
  const input = concat(
    Array.from({ length: 200 }, () => frame(randomRequestBody(rng))),
  );
  const whole = decodeStream([input]);
  for (let round = 0; round < 50; round++) {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < input.length;) {
      const n = rng.chance(0.3) ? 1 : rng.range(1, 300);
      chunks.push(input.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(decodeStream(chunks), whole, `round ${round}`);
  }
});

Deno.test("codec.words keeps the last decode's table across memory growth and encodes", () => {
  const input = concat([
    frame(body((w) => w.tag(1, WireType.Varint).int32(11))),
    frame(body((w) => w.tag(1, WireType.Varint).int32(12))),
  ]);
  assert.equal(codec.decodeRequests(input, 1 << 20), 2);
  const words = codec.words;
  const before = words.slice(0, HEADER + 2 * STRIDE);
  const bytesBefore = codec.memorySize;
  const big = new Uint8Array(codec.memorySize + (4 << 20));
  codec.fnv1a(big);
  codec.encodeResponses([1, 2, 1], ["x".repeat(1 << 20)], [big], 1);
  assert.ok(codec.memorySize > bytesBefore, "memory grew");
  assert.equal(codec.words, words);
  assert.deepEqual(words.slice(0, HEADER + 2 * STRIDE), before);
  assert.equal(words[HEADER + STRIDE + RQ_ID], 12);
});

Deno.test("decodeRequests reads a fresh table after the memory grew between two decodes of as many frames", () => {
  const own = new Codec();
  const batch = (first: number) =>
    concat(
      Array.from({ length: 16 }, (_, i) =>
        frame(body((w) => w.tag(1, WireType.Varint).int32(first + i)))),
    );
  assert.equal(own.decodeRequests(batch(100), 1 << 20), 16);
  assert.equal(own.words[HEADER + 15 * STRIDE + RQ_ID], 115);
  own.fnv1a(new Uint8Array(own.memorySize + (4 << 20))); // grows the memory
  assert.equal(own.decodeRequests(batch(200), 1 << 20), 16);
  assert.equal(own.words[HEADER + RQ_ID], 200);
  assert.equal(own.words[HEADER + 15 * STRIDE + RQ_ID], 215);
});
