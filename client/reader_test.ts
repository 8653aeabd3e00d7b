import assert from "node:assert/strict";
import { INITIAL_BUFFER, ResponseReader } from "./_reader.ts";
import { ProtocolError } from "./errors.ts";
import { codec } from "../wasm/codec.ts";
import { concat, responseFrame, varint } from "../testing/mod.ts";

interface Got {
  id: number;
  type: number;
  status: number;
  message: string;
  data: Uint8Array;
}

function reader(max = 1024 * 1024): { reader: ResponseReader; got: Got[] } {
  const got: Got[] = [];
  const r = new ResponseReader(max, (id, type, status, message, data) => {
    got.push({ id, type, status, message, data });
  });
  return { reader: r, got };
}

/** Feeds `bytes` in chunks of `size` through the reader's own buffer. */
function feed(r: ResponseReader, bytes: Uint8Array, size = bytes.length) {
  for (let at = 0; at < bytes.length;) {
    const space = r.space();
    const n = Math.min(size, space.length, bytes.length - at);
    space.set(bytes.subarray(at, at + n));
    r.received(n);
    at += n;
  }
}

Deno.test("ResponseReader decodes every frame of one chunk", () => {
  const { reader: r, got } = reader();
  const frames = [];
  for (let i = 0; i < 100; i++) {
    frames.push(
      responseFrame({
        requestId: i - 50,
        responseType: 2,
        responseStatus: 1 + (i % 4),
        responseMessage: i % 2 ? `m${i}` : "",
        data: new Uint8Array([i, i + 1]),
      }),
    );
  }
  feed(r, concat(...frames));
  assert.equal(got.length, 100);
  assert.deepEqual(got[3], {
    id: -47,
    type: 2,
    status: 4,
    message: "m3",
    data: new Uint8Array([3, 4]),
  });
  assert.equal(r.buffered, 0);
});

Deno.test("ResponseReader carries partial frames over, one byte at a time", () => {
  const { reader: r, got } = reader();
  const bytes = concat(
    responseFrame({
      requestId: -1,
      responseType: 3,
      data: new Uint8Array(300),
    }),
    responseFrame({ requestId: 7, responseType: 1 }),
  );
  feed(r, bytes, 1);
  assert.deepEqual(got.map((g) => [g.id, g.type, g.data.length]), [
    [-1, 3, 300],
    [7, 1, 0],
  ]);
});

Deno.test("ResponseReader hands out data copies that outlive the buffer", () => {
  const { reader: r, got } = reader();
  feed(
    r,
    responseFrame({
      requestId: 1,
      responseType: 2,
      data: new Uint8Array([9, 9]),
    }),
  );
  feed(
    r,
    responseFrame({
      requestId: 2,
      responseType: 2,
      data: new Uint8Array([1, 1]),
    }),
  );
  assert.deepEqual(got[0].data, new Uint8Array([9, 9]));
  assert.notEqual(got[0].data.buffer, got[1].data.buffer);
});

Deno.test("ResponseReader grows its buffer only as claimed bytes arrive", () => {
  const { reader: r, got } = reader();
  // A prefix claiming 1,000,000 bytes, then only 100 of them.
  const claim = concat(varint(1_000_000), new Uint8Array(100));
  feed(r, claim);
  assert.equal(r.capacity, INITIAL_BUFFER);
  assert.equal(got.length, 0);
});

Deno.test("ResponseReader reassembles a large frame and shrinks back after it", () => {
  const { reader: r, got } = reader();
  const data = new Uint8Array(500_000).map((_, i) => i & 0xff);
  feed(r, responseFrame({ requestId: 5, responseType: 2, data }), 10_000);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].data, data);
  assert.equal(r.capacity, INITIAL_BUFFER);
});

Deno.test("ResponseReader rejects a prefix over maxMessageSize", () => {
  const { reader: r } = reader(1000);
  assert.throws(
    () => feed(r, concat(varint(1001), new Uint8Array(10))),
    (e: unknown) =>
      e instanceof ProtocolError && /maximum message size/.test(e.message),
  );
});

Deno.test("ResponseReader delivers the frames before a malformed one, then throws", () => {
  const { reader: r, got } = reader();
  const good = responseFrame({ requestId: 1, responseType: 2 });
  // Field 1 with wire type 7: invalid.
  const bad = concat(varint(2), new Uint8Array([0x0f, 0x00]));
  assert.throws(() => feed(r, concat(good, bad)), ProtocolError);
  assert.equal(got.length, 1);
});

Deno.test("ResponseReader delivers every frame of a chunk when a sink decodes in between", () => {
  const got: number[] = [];
  const other = concat(
    ...[97, 98, 99].map((id) =>
      responseFrame({ requestId: id, responseType: 2 })
    ),
  );
  const r = new ResponseReader(1 << 20, (id) => {
    got.push(id);
    // Code run by a sink may use the shared codec, e.g. another connection.
    codec.decodeResponses(other, 1 << 20);
  });
  const frames = [1, 2, 3].map((id) =>
    responseFrame({ requestId: id, responseType: 2 })
  );
  feed(r, concat(...frames));
  assert.deepEqual(got, [1, 2, 3]);
});
