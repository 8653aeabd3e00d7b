// Differential fuzz of the encoders: seeded batches of responses (the
// server's side) and requests (the client's), with ids, types, statuses
// and path hashes anywhere in -2^40..2^40 (past int32 and uint32: the
// encoders keep their low 32 bits, as protobuf-es keeps an int32's),
// messages and paths that start with U+FEFF, empty to 70 KB data. Each
// batch must be the bytes protobuf-es `sizeDelimitedEncode` writes for the
// same values, and decode back to them through protobuf-es and through our
// own decoders. FUZZ_SEED and FUZZ_CASES override the seed and batch count.

import assert from "node:assert/strict";
import {
  sizeDelimitedEncode,
  sizeDelimitedPeek,
} from "@bufbuild/protobuf/wire";
import {
  codec,
  PATH_HASH,
  PATH_NONE,
  PATH_STRING,
  PRE_ENCODED,
} from "./codec.ts";
import {
  concat,
  create,
  decodeRequests,
  expectedRequest,
  fromBinary,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
  randomText,
  responseEntries,
  Rng,
  utf8,
  withoutFrame,
} from "./_test_utils.ts";
import { FUZZ_SEED, fuzzCases } from "../testing/_wire_fuzz.ts";

const BATCHES = fuzzCases(400);

/** A number for an int32 or uint32 field: edges, then anything to 2^40. */
function number(rng: Rng): number {
  switch (rng.int(5)) {
    case 0:
      return rng.int(5);
    case 1:
      return rng.pick([
        2 ** 31 - 1,
        2 ** 31,
        2 ** 32 - 1,
        2 ** 32,
        2 ** 32 + 7,
        -(2 ** 31),
        -(2 ** 31) - 1,
        -(2 ** 32),
      ]);
    case 2:
      return rng.u32() | 0;
    case 3:
      return rng.u32();
    default:
      return (rng.u32() % 2 ** 8) * 2 ** 32 +
        rng.u32() * (rng.chance(0.5) ? 1 : -1);
  }
}

function text(rng: Rng): string {
  return (rng.chance(0.2) ? "\uFEFF" : "") + randomText(rng, 30);
}

function data(rng: Rng): Uint8Array {
  const n = rng.chance(0.85)
    ? rng.int(100)
    : rng.pick([16367, 16368, 16369, rng.range(100, 3000), 70000]);
  return rng.bytes(n);
}

function notPreEncoded(type: number): number {
  return type === PRE_ENCODED ? type + 1 : type;
}

interface Response {
  id: number;
  type: number;
  status: number;
  message: string | undefined;
  data: Uint8Array;
}

function response(rng: Rng): Response {
  return {
    id: number(rng),
    // 2^32 is PRE_ENCODED: the payload is a whole frame (codec_encode_test).
    type: rng.chance(0.7) ? rng.int(4) : notPreEncoded(number(rng)),
    status: rng.chance(0.7) ? rng.int(5) : number(rng),
    message: rng.chance(0.5) ? undefined : rng.chance(0.1) ? "" : text(rng),
    data: data(rng),
  };
}

/** The frame protobuf-es writes for `r`, with the numbers it can hold. */
function expectedResponse(r: Response): Uint8Array {
  return sizeDelimitedEncode(
    NanoRPCResponseSchema,
    create(NanoRPCResponseSchema, {
      requestId: r.id | 0,
      responseType: r.type | 0,
      responseStatus: r.status | 0,
      responseMessage: r.message ?? "",
      data: r.data,
    }),
  );
}

Deno.test(`encodeResponses writes what protobuf-es writes for ${BATCHES} fuzzed batches, ids past 32 bits included`, () => {
  const rng = new Rng(FUZZ_SEED + 2);
  for (let n = 0; n < BATCHES; n++) {
    const batch = Array.from({ length: rng.range(1, 8) }, () => response(rng));
    const fields = batch.flatMap((r) => [r.id, r.type, r.status]);
    const messages = batch.map((r) => r.message);
    const payloads = batch.map((r) => r.data);
    const bytes = codec.encodeResponses(
      fields,
      messages,
      payloads,
      batch.length,
    );
    const expected = concat(batch.map(expectedResponse));
    assert.deepEqual(bytes, expected, JSON.stringify(fields));
    const into = new Uint8Array(bytes.length + 3);
    assert.equal(
      codec.encodeResponsesInto(
        fields,
        messages,
        payloads,
        batch.length,
        into,
        3,
      ),
      into.length,
    );
    assert.deepEqual(into.subarray(3), expected);
    assert.equal(codec.decodeResponses(bytes, 1 << 20), batch.length);
    assert.deepEqual(
      responseEntries(bytes),
      batch.map((r) => ({
        id: r.id | 0,
        type: r.type | 0,
        status: r.status | 0,
        message: r.message ?? "",
        data: r.data,
      })),
    );
  }
});

interface Request {
  id: number;
  type: number;
  kind: number;
  hash: number;
  path: string;
  data: Uint8Array;
}

function request(rng: Rng): Request {
  return {
    id: number(rng),
    type: rng.chance(0.7) ? rng.int(4) : number(rng),
    kind: rng.pick([PATH_NONE, PATH_HASH, PATH_STRING]),
    hash: number(rng),
    path: text(rng),
    data: data(rng),
  };
}

Deno.test(`encodeRequests writes what protobuf-es writes for ${BATCHES} fuzzed batches, ids and hashes past 32 bits included`, () => {
  const rng = new Rng(FUZZ_SEED + 3);
  for (let n = 0; n < BATCHES; n++) {
    const batch = Array.from({ length: rng.range(1, 8) }, () => request(rng));
    const bytes = codec.encodeRequests(
      batch.flatMap((r) => [r.id, r.type, r.kind, r.hash]),
      batch.map((r) =>
        r.kind === PATH_STRING ? utf8.encode(r.path) : undefined
      ),
      batch.map((r) => r.data),
      batch.length,
    );
    const messages = batch.map((r) =>
      create(NanoRPCRequestSchema, {
        requestId: r.id | 0,
        requestType: r.type | 0,
        pathOneof: r.kind === PATH_HASH
          ? { case: "pathHash", value: r.hash >>> 0 }
          : r.kind === PATH_STRING
          ? { case: "path", value: r.path }
          : { case: undefined },
        data: r.data,
      })
    );
    assert.deepEqual(
      bytes,
      concat(messages.map((m) => sizeDelimitedEncode(NanoRPCRequestSchema, m))),
    );
    const decoded = decodeRequests(bytes);
    assert.equal(decoded.count, batch.length);
    assert.deepEqual(
      decoded.entries.map(withoutFrame),
      messages.map((m) => expectedRequest(m)),
    );
    for (const [i, e] of decoded.entries.entries()) {
      const body = bytes.subarray(e.start, e.end);
      const { offset } = sizeDelimitedPeek(body);
      assert.deepEqual(
        fromBinary(NanoRPCRequestSchema, body.subarray(offset!)),
        messages[i],
      );
    }
  }
});

Deno.test("encodeResponses keeps the low 32 bits of an id, type or status past int32, as encodeRequests does", () => {
  const encode = (id: number, type: number, status: number) =>
    Array.from(
      codec.encodeResponses([id, type, status], [undefined], [
        new Uint8Array(0),
      ], 1),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  // 2^32 wrote "0a 08 80 00 10 02 18 01 00 00 00": a varint cut to 2 of
  // the 5 bytes its size counted, and the frame ended in field 0 tags.
  assert.equal(encode(2 ** 32, 2, 1), "0410021801");
  assert.equal(encode(2 ** 32 + 7, 2 ** 32 + 2, 2 ** 32 + 1), "06080710021801");
  // 2^31 and 2^32 - 1 wrote 5-byte uint32 varints; an int32 is -2^31 and
  // -1, 10 bytes each, as protobuf-es writes them.
  assert.equal(encode(2 ** 31, 0, 0), "0b0880808080f8ffffffff01");
  assert.equal(encode(2 ** 32 - 1, 0, 0), "0b08ffffffffffffffffff01");
});
