// Differential fuzz of the benchmark baseline codec (ProtobufEsCodec)
// against what its header promises: frames split by a 64-bit varint prefix
// of at most 10 bytes and at most maxMessageSize, each malformed exactly
// when protobuf-es `fromBinary` throws, and the same table the WASM codec
// fills for every frame the WASM codec accepts. The streams are those of
// testing/_wire_fuzz.ts; FUZZ_SEED and FUZZ_CASES override seed and count.

import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import {
  type NanoRPCRequest,
  NanoRPCRequestSchema,
} from "../proto/gen/nanorpc_pb.ts";
import {
  codec,
  MalformedReason,
  MAX_FRAMES,
  PATH_HASH,
  PATH_NONE,
} from "../wasm/codec.ts";
import { RequestFrames } from "../wasm/frames.ts";
import { fnv1a } from "../wasm/wire.ts";
import {
  FUZZ_SEED,
  fuzzCases,
  fuzzStream,
  Rng,
} from "../testing/_wire_fuzz.ts";
import { ProtobufEsCodec } from "./pb_codec.ts";

const CASES = fuzzCases(1500);

interface Model {
  frames: { start: number; end: number; msg: NanoRPCRequest }[];
  consumed: number;
  refused: boolean;
  need: number;
}

/** What the baseline should report: its header's rules, written out. */
function model(input: Uint8Array, max: number): Model {
  const m: Model = { frames: [], consumed: 0, refused: false, need: 0 };
  while (m.consumed < input.length && m.frames.length < MAX_FRAMES) {
    const at = m.consumed;
    let v = 0n;
    let i = 0;
    for (; i < 10 && at + i < input.length; i++) {
      v |= BigInt(input[at + i] & 0x7f) << BigInt(7 * i);
      if (input[at + i] < 0x80) break;
    }
    if (i === 10) return { ...m, refused: true };
    if (at + i === input.length) return m; // The prefix goes on.
    if (v > BigInt(max)) return { ...m, refused: true };
    const end = at + i + 1 + Number(v);
    if (end > input.length) return { ...m, need: end - at };
    try {
      const msg = fromBinary(
        NanoRPCRequestSchema,
        input.subarray(at + i + 1, end),
      );
      m.frames.push({ start: at, end, msg });
    } catch {
      return { ...m, refused: true };
    }
    m.consumed = end;
  }
  return m;
}

Deno.test(`ProtobufEsCodec decodes ${CASES} fuzzed streams as its rules say, and every frame the WASM codec accepts alike`, () => {
  const rng = new Rng(FUZZ_SEED + 7);
  const pb = new ProtobufEsCodec();
  let laxer = 0;
  for (let n = 0; n < CASES; n++) {
    const { input, max } = fuzzStream(rng);
    const want = model(input, max);
    const count = pb.decodeRequests(input, max);
    const a = new RequestFrames().load(pb.words);
    const why = `case ${n}`;
    assert.deepEqual(
      [count, a.consumed, a.error !== 0, a.need],
      [want.frames.length, want.consumed, want.refused, want.need],
      why,
    );
    if (want.refused) assert.equal(a.errorAt, want.consumed, why);
    codec.decodeRequests(input, max);
    const b = new RequestFrames().load(codec.words);
    if (b.count < a.count) laxer++;
    while (a.next()) {
      const { start, end, msg } = want.frames[a.index];
      const path = msg.pathOneof;
      assert.deepEqual([
        a.id,
        a.type,
        a.pathKind,
        a.pathHash,
        a.data(input),
        a.frameStart,
        a.frameEnd,
      ], [
        msg.requestId,
        msg.requestType,
        path.case === undefined ? PATH_NONE : PATH_HASH,
        path.case === "path"
          ? fnv1a(path.value)
          : path.case === "pathHash"
          ? path.value
          : 0,
        msg.data,
        start,
        end,
      ], why);
      if (!b.next()) continue;
      assert.deepEqual(
        [b.id, b.type, b.pathHash, b.data(input), b.frameEnd],
        [a.id, a.type, a.pathHash, a.data(input), a.frameEnd],
        why,
      );
    }
  }
  // protobuf-es reads groups, wrong wire types and over-long unknown
  // varints that the WASM codec refuses: the baseline follows it.
  assert.ok(laxer > 0);
});

Deno.test("ProtobufEsCodec refuses a length prefix of 2^32 or more instead of reading its low 32 bits", () => {
  // 84 80 80 80 10 is 2^32 + 4; sizeDelimitedPeek reads 4 and took the 4
  // bytes after it (PING, id 1) for a frame.
  const input = new Uint8Array([0x84, 0x80, 0x80, 0x80, 0x10, 8, 1, 16, 1]);
  const pb = new ProtobufEsCodec();
  assert.equal(pb.decodeRequests(input, 1 << 20), 0);
  assert.equal(
    new RequestFrames().load(pb.words).error,
    MalformedReason.FRAME_TOO_LARGE,
  );
  assert.equal(codec.decodeRequests(input, 1 << 20), 0);
});
