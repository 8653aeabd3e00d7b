import assert from "node:assert/strict";
import {
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import {
  concat,
  decodeFrames,
  FrameSplitter,
  PING,
  REQUEST,
  requestFrame,
  RESPONSE,
  responseFrame,
  UPDATE,
  varint,
} from "./frames.ts";

Deno.test("requestFrame writes a varint length and the request", () => {
  const bytes = requestFrame({
    requestId: 300,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: new Uint8Array([9]),
  });
  assert.equal(bytes[0], bytes.length - 1);
  const [request] = decodeFrames(NanoRPCRequestSchema, bytes);
  assert.equal(request.requestId, 300);
  assert.deepEqual(request.pathOneof, { case: "path", value: "/echo" });
  assert.deepEqual(request.data, new Uint8Array([9]));
});

Deno.test("responseFrame is OK unless told otherwise", () => {
  const [ok, refused] = decodeFrames(
    NanoRPCResponseSchema,
    concat(
      responseFrame({ requestId: 1, responseType: RESPONSE }),
      responseFrame({
        requestId: 2,
        responseType: RESPONSE,
        responseStatus: 2,
      }),
    ),
  );
  assert.equal(ok.responseStatus, 1);
  assert.equal(refused.responseStatus, 2);
});

Deno.test("FrameSplitter splits frames across any chunk boundaries", () => {
  const bytes = concat(
    responseFrame({
      requestId: 1,
      responseType: UPDATE,
      data: new Uint8Array(200),
    }),
    responseFrame({ requestId: 2, responseType: RESPONSE }),
  );
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const splitter = new FrameSplitter(NanoRPCResponseSchema);
    const ids: number[] = [];
    for (let at = 0; at < bytes.length; at += size) {
      for (const m of splitter.push(bytes.subarray(at, at + size))) {
        ids.push(m.requestId);
      }
    }
    assert.deepEqual(ids, [1, 2], `chunks of ${size}`);
    assert.equal(splitter.buffered, 0);
  }
});

Deno.test("FrameSplitter refuses a frame that claims more than maxFrameSize", () => {
  const splitter = new FrameSplitter(NanoRPCRequestSchema, {
    maxFrameSize: 100,
  });
  assert.throws(() => splitter.push(varint(101)), RangeError);
});

Deno.test("decodeFrames refuses bytes that end inside a frame", () => {
  const bytes = requestFrame({ requestId: 1, requestType: PING });
  assert.throws(
    () => decodeFrames(NanoRPCRequestSchema, bytes.subarray(0, 2)),
    /end inside a frame/,
  );
});

Deno.test("varint encodes as protobuf does", () => {
  assert.deepEqual(varint(0), new Uint8Array([0]));
  assert.deepEqual(varint(300), new Uint8Array([0xac, 0x02]));
  assert.deepEqual(varint(2 ** 32 - 1).length, 5);
});
