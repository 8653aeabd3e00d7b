// The batch encoders write exactly the bytes protobuf-es
// `sizeDelimitedEncode` writes, frame after frame, for any batch size.

import assert from "node:assert/strict";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import {
  codec,
  MAX_FRAMES,
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
  header,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
  randomText,
  responseEntries,
  Rng,
  utf8,
  withoutFrame,
} from "./_test_utils.ts";

interface ResponseInput {
  id: number;
  type: number;
  status: number;
  message: string | undefined;
  payload: Uint8Array;
}

function randomResponse(rng: Rng, maxData: number): ResponseInput {
  const message = rng.chance(0.5)
    ? undefined
    : rng.chance(0.05)
    ? "lone \ud800 surrogate \udc00"
    : randomText(rng, 30);
  return {
    id: rng.i32(),
    type: rng.chance(0.9) ? rng.int(4) : rng.i32(),
    status: rng.chance(0.9) ? rng.int(5) : rng.i32(),
    message,
    payload: rng.bytes(rng.chance(0.2) ? 0 : rng.int(maxData + 1)),
  };
}

function encodeResponsesWithCodec(batch: ResponseInput[]): Uint8Array {
  const fields = batch.flatMap((r) => [r.id, r.type, r.status]);
  return codec.encodeResponses(
    fields,
    batch.map((r) => r.message),
    batch.map((r) => r.payload),
    batch.length,
  );
}

function encodeResponsesWithProtobufEs(batch: ResponseInput[]): Uint8Array {
  return concat(batch.map((r) =>
    sizeDelimitedEncode(
      NanoRPCResponseSchema,
      create(NanoRPCResponseSchema, {
        requestId: r.id,
        responseType: r.type,
        responseStatus: r.status,
        responseMessage: r.message ?? "",
        data: r.payload,
      }),
    )
  ));
}

Deno.test("encodeResponses writes the bytes of protobuf-es sizeDelimitedEncode", () => {
  const rng = new Rng(0xe7c);
  for (let round = 0; round < 40; round++) {
    const batch = Array.from(
      { length: rng.range(1, 200) },
      () => randomResponse(rng, 100),
    );
    assert.deepEqual(
      encodeResponsesWithCodec(batch),
      encodeResponsesWithProtobufEs(batch),
      `round ${round}`,
    );
  }
});

Deno.test("encodeResponses writes frames without a message like protobuf-es at every varint boundary of id, type, status, data and body", () => {
  const rng = new Rng(0x5a11);
  const edges = [
    0,
    1,
    0x7f,
    0x80,
    0x3fff,
    0x4000,
    0x1fffff,
    0x200000,
    0x7fffffff,
    -1,
  ];
  const lengths = [
    0,
    1,
    16,
    17,
    0x6f,
    0x7f,
    0x80,
    0x3fef,
    0x3ff0,
    0x3fff,
    0x4000,
  ];
  const batch: ResponseInput[] = [];
  for (const id of edges) {
    for (const small of [0, 1, 0x7f, 0x80]) {
      for (const len of lengths) {
        batch.push({
          id,
          type: small,
          status: rng.chance(0.5) ? 0 : small,
          message: rng.chance(0.1) ? "" : undefined,
          payload: rng.bytes(len),
        });
      }
    }
  }
  assert.deepEqual(
    encodeResponsesWithCodec(batch),
    encodeResponsesWithProtobufEs(batch),
  );
});

Deno.test("encodeResponses writes negative ids, empty fields and non-ASCII messages like protobuf-es", () => {
  const batch: ResponseInput[] = [
    { id: -1, type: 2, status: 4, message: "", payload: new Uint8Array(0) },
    {
      id: 0,
      type: 0,
      status: 0,
      message: undefined,
      payload: new Uint8Array(0),
    },
    {
      id: -2147483648,
      type: 3,
      status: 1,
      message: "日本語 😀",
      payload: new Uint8Array(1),
    },
    {
      id: 2147483647,
      type: 1,
      status: 2,
      message: "é".repeat(200),
      payload: new Uint8Array(300),
    },
  ];
  const bytes = encodeResponsesWithCodec(batch);
  assert.deepEqual(bytes, encodeResponsesWithProtobufEs(batch));
  assert.deepEqual(
    bytes.subarray(0, 2),
    new Uint8Array([15, 0x08]),
    "10-byte id",
  );
  assert.deepEqual(
    bytes.subarray(16, 17),
    new Uint8Array([0]),
    "empty frame",
  );
});

Deno.test("encodeResponses writes 1 MiB payloads like protobuf-es", () => {
  const rng = new Rng(7);
  const batch = [randomResponse(rng, 10), randomResponse(rng, 10)];
  batch[0].payload = rng.bytes(1 << 20);
  assert.deepEqual(
    encodeResponsesWithCodec(batch),
    encodeResponsesWithProtobufEs(batch),
  );
});

Deno.test("encodeResponses encodes more than MAX_FRAMES frames in one batch", () => {
  const rng = new Rng(0xf00);
  const batch = Array.from(
    { length: MAX_FRAMES * 2 + 17 },
    () => randomResponse(rng, 8),
  );
  assert.deepEqual(
    encodeResponsesWithCodec(batch),
    encodeResponsesWithProtobufEs(batch),
  );
});

Deno.test("encodeResponsesInto writes the bytes of encodeResponses at an offset, in place", () => {
  const rng = new Rng(0x1470);
  for (let round = 0; round < 20; round++) {
    const batch = Array.from(
      { length: rng.range(1, 40) },
      () => randomResponse(rng, 100),
    );
    const expected = encodeResponsesWithProtobufEs(batch);
    const out = new Uint8Array(expected.length + 20).fill(0xee);
    const end = codec.encodeResponsesInto(
      batch.flatMap((r) => [r.id, r.type, r.status]),
      batch.map((r) => r.message),
      batch.map((r) => r.payload),
      batch.length,
      out,
      7,
    );
    assert.equal(end, 7 + expected.length, `round ${round}`);
    assert.deepEqual(out.subarray(7, end), expected, `round ${round}`);
    assert.ok(out.subarray(0, 7).every((b) => b === 0xee), "before `at`");
    assert.ok(out.subarray(end).every((b) => b === 0xee), "past the end");
  }
});

Deno.test("encodeResponsesInto refuses a buffer without room for a frame and writes none of it", () => {
  const out = new Uint8Array(40).fill(0xee);
  assert.throws(
    () =>
      codec.encodeResponsesInto(
        [1, 2, 1],
        [undefined],
        [new Uint8Array(32)],
        1,
        out,
        10,
      ),
    (err: Error) =>
      err instanceof RangeError &&
      /No room to encode frame 1 of 1 \(41 bytes\)/.test(err.message),
  );
  assert.ok(out.every((b) => b === 0xee));
});

Deno.test("encodeResponses copies PRE_ENCODED frames as they are, in order among the others", () => {
  const rng = new Rng(0x93e);
  for (let round = 0; round < 20; round++) {
    const batch = Array.from(
      { length: rng.range(1, 30) },
      () => randomResponse(rng, 60),
    );
    const shared = batch.map(() => rng.chance(0.5));
    const expected = encodeResponsesWithProtobufEs(batch);
    const fields = batch.flatMap((r, i) =>
      shared[i] ? [0, PRE_ENCODED, 0] : [r.id, r.type, r.status]
    );
    const payloads = batch.map((r, i) =>
      shared[i] ? encodeResponsesWithProtobufEs([r]) : r.payload
    );
    const messages = batch.map((r, i) => shared[i] ? undefined : r.message);
    assert.deepEqual(
      codec.encodeResponses(fields, messages, payloads, batch.length),
      expected,
      `round ${round}`,
    );
    const out = new Uint8Array(expected.length + 3);
    const end = codec.encodeResponsesInto(
      fields,
      messages,
      payloads,
      batch.length,
      out,
      3,
    );
    assert.deepEqual(out.subarray(3, end), expected, `round ${round}, into`);
  }
});

Deno.test("encodeResponses output decodes back with decodeResponses", () => {
  const rng = new Rng(0xbac);
  const batch = Array.from({ length: 500 }, () => randomResponse(rng, 64))
    .filter((r) => !r.message?.includes("\ud800"));
  const bytes = encodeResponsesWithCodec(batch);
  assert.equal(codec.decodeResponses(bytes, 1 << 20), batch.length);
  assert.equal(header().consumed, bytes.length);
  assert.deepEqual(
    responseEntries(bytes),
    batch.map((r) => ({
      id: r.id,
      type: r.type,
      status: r.status,
      message: r.message ?? "",
      data: r.payload,
    })),
  );
});

interface RequestInput {
  id: number;
  type: number;
  kind: number;
  hash: number;
  path: string;
  payload: Uint8Array;
}

function randomRequest(rng: Rng, maxData: number): RequestInput {
  return {
    id: rng.i32(),
    type: rng.chance(0.9) ? rng.int(4) : rng.i32(),
    kind: rng.pick([PATH_NONE, PATH_HASH, PATH_STRING]),
    hash: rng.chance(0.1) ? 0 : rng.u32(),
    path: rng.chance(0.1) ? "" : randomText(rng, 40),
    payload: rng.bytes(rng.chance(0.2) ? 0 : rng.int(maxData + 1)),
  };
}

function encodeRequestsWithCodec(batch: RequestInput[]): Uint8Array {
  return codec.encodeRequests(
    batch.flatMap((r) => [r.id, r.type, r.kind, r.hash]),
    batch.map((r) => r.kind === PATH_STRING ? utf8.encode(r.path) : undefined),
    batch.map((r) => r.payload),
    batch.length,
  );
}

function requestMessage(r: RequestInput) {
  return create(NanoRPCRequestSchema, {
    requestId: r.id,
    requestType: r.type,
    pathOneof: r.kind === PATH_HASH
      ? { case: "pathHash", value: r.hash }
      : r.kind === PATH_STRING
      ? { case: "path", value: r.path }
      : { case: undefined },
    data: r.payload,
  });
}

function encodeRequestsWithProtobufEs(batch: RequestInput[]): Uint8Array {
  return concat(
    batch.map((r) =>
      sizeDelimitedEncode(NanoRPCRequestSchema, requestMessage(r))
    ),
  );
}

Deno.test("encodeRequests writes the bytes of protobuf-es sizeDelimitedEncode", () => {
  const rng = new Rng(0x7e9);
  for (let round = 0; round < 40; round++) {
    const batch = Array.from(
      { length: rng.range(1, 200) },
      () => randomRequest(rng, 100),
    );
    assert.deepEqual(
      encodeRequestsWithCodec(batch),
      encodeRequestsWithProtobufEs(batch),
      `round ${round}`,
    );
  }
});

Deno.test("encodeRequests writes a zero path_hash and an empty path, as oneof members", () => {
  const batch: RequestInput[] = [
    {
      id: -1,
      type: 1,
      kind: PATH_HASH,
      hash: 0,
      path: "",
      payload: new Uint8Array(0),
    },
    {
      id: 0,
      type: 0,
      kind: PATH_STRING,
      hash: 0,
      path: "",
      payload: new Uint8Array(0),
    },
    {
      id: 5,
      type: 2,
      kind: PATH_HASH,
      hash: 0xffffffff,
      path: "",
      payload: new Uint8Array(2),
    },
    {
      id: 6,
      type: 3,
      kind: PATH_STRING,
      hash: 0,
      path: "/😀/é",
      payload: new Uint8Array(1),
    },
  ];
  const bytes = encodeRequestsWithCodec(batch);
  assert.deepEqual(bytes, encodeRequestsWithProtobufEs(batch));
  assert.deepEqual(bytes.subarray(16, 19), new Uint8Array([2, 0x22, 0]));
});

Deno.test("encodeRequests encodes more than MAX_FRAMES frames in one batch", () => {
  const rng = new Rng(0xf01);
  const batch = Array.from(
    { length: MAX_FRAMES + 999 },
    () => randomRequest(rng, 8),
  );
  assert.deepEqual(
    encodeRequestsWithCodec(batch),
    encodeRequestsWithProtobufEs(batch),
  );
});

Deno.test("encodeRequests output decodes back with decodeRequests", () => {
  const rng = new Rng(0xbad);
  const batch = Array.from({ length: 500 }, () => randomRequest(rng, 64));
  const bytes = encodeRequestsWithCodec(batch);
  const r = decodeRequests(bytes);
  assert.equal(r.count, batch.length);
  assert.equal(r.error, 0);
  assert.deepEqual(
    r.entries.map(withoutFrame),
    batch.map((b) => expectedRequest(requestMessage(b))),
  );
});
