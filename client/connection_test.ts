import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { PATH_STRING } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
import { Call } from "./_call.ts";
import { encodeBatch } from "./_connection.ts";

const enc = new TextEncoder();

function call(path: string, data: Uint8Array, id: number): Call {
  const c = new Call(
    {
      type: RequestType.REQUEST,
      pathKind: PATH_STRING,
      pathHash: 0,
      path: enc.encode(path),
      data,
    },
    path,
  );
  c.id = id;
  return c;
}

Deno.test("encodeBatch skips settled calls and lets go of the data it encoded", () => {
  const settled = call("/aborted", new Uint8Array(1000), 1);
  const live = call("/live", new Uint8Array([1, 2, 3]), 2);
  settled.reject(new Error("aborted"));
  settled.promise.catch(() => {});
  const bytes = encodeBatch([settled, live])!;
  // One frame: a one-byte length prefix and that many bytes.
  assert.equal(bytes[0], bytes.length - 1);
  const request = fromBinary(NanoRPCRequestSchema, bytes.subarray(1));
  assert.equal(request.requestId, 2);
  assert.deepEqual(request.pathOneof, { case: "path", value: "/live" });
  assert.deepEqual(request.data, new Uint8Array([1, 2, 3]));
  assert.equal(live.written, true);
  assert.equal(live.data.length, 0);
  assert.equal(settled.written, false);
  assert.equal(encodeBatch([settled]), undefined);
});
