// Differential tests: thousands of random valid messages (random field
// order, duplicates, unknown fields of every allowed wire type, both path
// forms, negative ids, empty and 1 MiB data) decode exactly as protobuf-es
// `fromBinary` decodes them. Seeds are fixed so a failure reproduces.

import assert from "node:assert/strict";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { codec } from "./codec.ts";
import {
  concat,
  decodeRequests,
  expectedRequest,
  expectedResponse,
  frame,
  fromBinary,
  header,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
  offsetsInBounds,
  randomRequestBody,
  randomResponseBody,
  responseEntries,
  Rng,
  withoutFrame,
} from "./_test_utils.ts";

const MESSAGES = 6000;
const BATCH = 300;

Deno.test("decodeRequests decodes 6,000 random requests exactly as protobuf-es fromBinary", () => {
  const rng = new Rng(0xc0dec);
  for (let done = 0; done < MESSAGES; done += BATCH) {
    const bodies = Array.from({ length: BATCH }, () => randomRequestBody(rng));
    const input = concat(bodies.map(frame));
    const r = decodeRequests(input);
    assert.equal(r.error, 0, `seed batch ${done}`);
    assert.equal(r.count, BATCH);
    assert.equal(r.consumed, input.length);
    assert.ok(offsetsInBounds(input.length));
    for (let i = 0; i < BATCH; i++) {
      const expected = expectedRequest(
        fromBinary(NanoRPCRequestSchema, bodies[i]),
      );
      assert.deepEqual(
        withoutFrame(r.entries[i]),
        expected,
        `message ${done + i}`,
      );
    }
    let at = 0;
    for (let i = 0; i < BATCH; i++) {
      assert.equal(r.entries[i].start, at);
      at += frame(bodies[i]).length;
      assert.equal(r.entries[i].end, at);
    }
  }
});

Deno.test("decodeRequests decodes requests with empty and 1 MiB data as protobuf-es does", () => {
  const rng = new Rng(0xb16);
  const bodies = Array.from(
    { length: 12 },
    () => randomRequestBody(rng, { maxData: 1 << 20, bigData: 0.5 }),
  );
  bodies.push(
    new BinaryWriter().tag(10, WireType.LengthDelimited).bytes(
      new Uint8Array(0),
    ).finish(),
    new BinaryWriter().tag(10, WireType.LengthDelimited).bytes(
      rng.bytes(1 << 20),
    ).tag(1, WireType.Varint).int32(-5).finish(),
  );
  const input = concat(bodies.map(frame));
  const r = decodeRequests(input, 8 << 20);
  assert.equal(r.error, 0);
  assert.equal(r.count, bodies.length);
  assert.ok(offsetsInBounds(input.length));
  bodies.forEach((b, i) => {
    const expected = expectedRequest(fromBinary(NanoRPCRequestSchema, b));
    assert.deepEqual(withoutFrame(r.entries[i]), expected, `message ${i}`);
  });
  assert.ok(r.entries.some((e) => e.data.length === 1 << 20));
});

Deno.test("decodeResponses decodes 6,000 random responses exactly as protobuf-es fromBinary", () => {
  const rng = new Rng(0x5e5);
  for (let done = 0; done < MESSAGES; done += BATCH) {
    const bodies = Array.from({ length: BATCH }, () => randomResponseBody(rng));
    const input = concat(bodies.map(frame));
    const count = codec.decodeResponses(input, 1 << 20);
    const h = header();
    assert.equal(h.error, 0);
    assert.equal(count, BATCH);
    assert.equal(h.consumed, input.length);
    assert.ok(offsetsInBounds(input.length, true));
    const entries = responseEntries(input);
    for (let i = 0; i < BATCH; i++) {
      const expected = expectedResponse(
        fromBinary(NanoRPCResponseSchema, bodies[i]),
      );
      assert.deepEqual(entries[i], expected, `message ${done + i}`);
    }
  }
});

Deno.test("decodeResponses applies the request decoder's framing and malformed rules", () => {
  const good = frame(randomResponseBody(new Rng(1)));
  const cases: [string, Uint8Array, number][] = [
    [
      "11-byte varint",
      frame(new Uint8Array([0x08, ...Array(11).fill(0xff)])),
      1,
    ],
    ["1 GiB prefix", new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x04]), 2],
    ["message past frame end", frame(new Uint8Array([0x22, 4, 0x61])), 3],
    ["invalid UTF-8 message", frame(new Uint8Array([0x22, 2, 0xc0, 0x80])), 4],
    ["group", frame(new Uint8Array([0x2b, 0x2c])), 5],
    ["field 0", frame(new Uint8Array([0x00, 0x00])), 6],
    ["status as bytes", frame(new Uint8Array([0x1a, 0])), 7],
  ];
  for (const [name, bad, reason] of cases) {
    const count = codec.decodeResponses(
      concat([good, good, bad, good]),
      1 << 20,
    );
    const h = header();
    assert.equal(count, 2, name);
    assert.equal(h.error, reason, name);
    assert.equal(h.errorAt, good.length * 2, name);
  }
  const partial = concat([good, good.subarray(0, good.length - 1)]);
  codec.decodeResponses(partial, 1 << 20);
  const h = header();
  assert.deepEqual([h.count, h.consumed, h.need], [
    1,
    good.length,
    good.length,
  ]);
});

Deno.test("decodeResponses round-trips a negative request_id sent as 10 bytes", () => {
  const body = new BinaryWriter().tag(1, WireType.Varint).int32(-42).finish();
  assert.equal(body.length, 11);
  const input = frame(body);
  codec.decodeResponses(input, 1 << 20);
  assert.equal(responseEntries(input)[0].id, -42);
});
