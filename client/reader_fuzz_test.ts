// Differential fuzz of the client's read side: the response frames the
// server's encoder writes, and fuzzed response streams (testing/_wire_fuzz.ts,
// damaged ones included), fed to a ResponseReader in random reads and at
// every byte boundary. What reaches the sink must be what protobuf-es
// decodes (for damaged streams: what `specFrames` reads, which
// wasm/codec_fuzz_test.ts holds to protobuf-es); a stream the spec refuses
// must end in a ProtocolError after the frames before it. FUZZ_SEED and
// FUZZ_CASES override the seed and the number of streams.

import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { sizeDelimitedPeek } from "@bufbuild/protobuf/wire";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import { codec } from "../wasm/codec.ts";
import { randomText } from "../wasm/_test_utils.ts";
import {
  FUZZ_SEED,
  fuzzCases,
  fuzzStream,
  randomCuts,
  Rng,
  specFrames,
} from "../testing/_wire_fuzz.ts";
import { ResponseReader } from "./_reader.ts";
import { ProtocolError } from "./errors.ts";

const CASES = fuzzCases(1500);
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

interface Got {
  id: number;
  type: number;
  status: number;
  message: string;
  data: Uint8Array;
}

interface Read {
  got: Got[];
  error?: unknown;
  buffered: number;
}

/** Feeds `bytes` to a new reader in reads that end at `cuts`, then the end. */
function read(bytes: Uint8Array, max: number, cuts: number[]): Read {
  const got: Got[] = [];
  const reader = new ResponseReader(max, (id, type, status, message, data) => {
    got.push({ id, type, status, message, data });
  });
  let at = 0;
  try {
    for (const end of [...cuts, bytes.length]) {
      while (at < end) {
        const space = reader.space();
        const n = Math.min(space.length, end - at);
        space.set(bytes.subarray(at, at + n));
        reader.received(n);
        at += n;
      }
    }
  } catch (error) {
    return { got, error, buffered: reader.buffered };
  }
  return { got, buffered: reader.buffered };
}

/** 0 to 4 sorted random offsets within `length`. */
/** Every frame of `bytes` as protobuf-es decodes it. */
function protobufEs(bytes: Uint8Array): Got[] {
  const out: Got[] = [];
  for (let at = 0; at < bytes.length;) {
    const { size, offset } = sizeDelimitedPeek(bytes.subarray(at));
    const m = fromBinary(
      NanoRPCResponseSchema,
      bytes.subarray(at + offset!, at + offset! + size!),
    );
    out.push({
      id: m.requestId,
      type: m.responseType,
      status: m.responseStatus,
      message: m.responseMessage,
      data: m.data,
    });
    at += offset! + size!;
  }
  return out;
}

Deno.test(`ResponseReader delivers what protobuf-es decodes from encodeResponses output, for ${CASES} batches read in random pieces`, () => {
  const rng = new Rng(FUZZ_SEED + 4);
  for (let n = 0; n < CASES; n++) {
    const count = rng.range(1, 6);
    const fields: number[] = [];
    const messages: (string | undefined)[] = [];
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      fields.push(rng.i32(), rng.int(4), rng.int(5));
      messages.push(
        rng.chance(0.4)
          ? undefined
          : (rng.chance(0.3) ? "\uFEFF" : "") + randomText(rng, 20),
      );
      payloads.push(rng.bytes(rng.chance(0.95) ? rng.int(80) : 70_000));
    }
    const bytes = codec.encodeResponses(fields, messages, payloads, count);
    const r = read(bytes, 1 << 20, randomCuts(rng, bytes.length, 5));
    assert.equal(r.error, undefined);
    assert.deepEqual(r.got, protobufEs(bytes), JSON.stringify(messages));
    assert.equal(r.buffered, 0);
  }
});

/** What the spec says a reader of `input` delivers. */
function expected(input: Uint8Array, max: number) {
  const spec = specFrames(input, max);
  return {
    got: spec.frames.map(({ fields: f }) => ({
      id: f.id,
      type: f.type,
      status: f.status,
      message: strict.decode(f.message),
      data: f.data,
    })),
    refused: spec.error !== 0,
    buffered: input.length - spec.consumed,
  };
}

function check(r: Read, want: ReturnType<typeof expected>, why: string) {
  assert.deepEqual(r.got, want.got, why);
  if (want.refused) {
    assert.ok(r.error instanceof ProtocolError, `${why}: ${r.error}`);
  } else {
    if (r.error) throw r.error;
    assert.equal(r.buffered, want.buffered, why);
  }
}

Deno.test(`ResponseReader delivers what the spec reads, or refuses, for ${CASES} fuzzed streams read in random pieces`, () => {
  const rng = new Rng(FUZZ_SEED + 5);
  for (let n = 0; n < CASES; n++) {
    const s = fuzzStream(rng);
    const cuts = randomCuts(rng, s.input.length, 5);
    check(read(s.input, s.max, cuts), expected(s.input, s.max), `case ${n}`);
  }
});

Deno.test("ResponseReader delivers the same frames for fuzzed streams split at every byte boundary", () => {
  const rng = new Rng(FUZZ_SEED + 6);
  for (let n = 0, done = 0; done < 12; n++) {
    const s = fuzzStream(rng, { fields: 4 });
    if (s.input.length > 600) continue;
    done++;
    const want = expected(s.input, s.max);
    for (let cut = 0; cut <= s.input.length; cut++) {
      check(read(s.input, s.max, [cut]), want, `case ${n} cut at ${cut}`);
    }
    const bytes = Array.from({ length: s.input.length }, (_, i) => i);
    check(read(s.input, s.max, bytes), want, `case ${n} byte by byte`);
  }
});

Deno.test("ResponseReader keeps a leading U+FEFF of a response message, as protobuf-es does", () => {
  // response_message = EF BB BF 61: U+FEFF is text in a protobuf string,
  // not a byte-order mark; a default TextDecoder dropped it.
  const frame = new Uint8Array([6, 0x22, 4, 0xef, 0xbb, 0xbf, 0x61]);
  assert.equal(protobufEs(frame)[0].message, "\uFEFFa");
  assert.equal(read(frame, 1 << 20, []).got[0].message, "\uFEFFa");
});
