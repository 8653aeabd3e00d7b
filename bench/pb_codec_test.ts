import assert from "node:assert/strict";
import { concat, RawClient, requestFrame } from "../testing/mod.ts";
import type { InternalServerOptions } from "../server/_core.ts";
import { Server } from "../server/server.ts";
import {
  codec,
  H_CONSUMED,
  H_ERROR,
  H_NEED,
  PATH_HASH,
  PATH_NONE,
  PRE_ENCODED,
} from "../wasm/codec.ts";
import { RequestFrames } from "../wasm/frames.ts";
import { fnv1a, RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { ProtobufEsCodec } from "./pb_codec.ts";

Deno.test("ProtobufEsCodec decodes the table the WASM codec decodes", () => {
  const pb = new ProtobufEsCodec();
  const input = concat(
    requestFrame({ requestId: 7, requestType: RequestType.PING }),
    requestFrame({
      requestId: -3,
      requestType: RequestType.REQUEST,
      pathOneof: { case: "path", value: "/echo" },
      data: new Uint8Array([1, 2, 3]),
    }),
    requestFrame({
      requestId: 300,
      requestType: RequestType.SUBSCRIBE,
      pathOneof: { case: "pathHash", value: fnv1a("/t") },
    }),
  );
  assert.equal(pb.decodeRequests(input, 1 << 20), 3);
  const a = new RequestFrames().load(pb.words);
  assert.equal(codec.decodeRequests(input, 1 << 20), 3);
  const b = new RequestFrames().load(codec.words);
  assert.equal(a.consumed, input.length);
  assert.equal(a.error, 0);
  const kinds = [];
  while (a.next() && b.next()) {
    const i = a.index;
    assert.equal(a.id, b.id, `frame ${i} id`);
    assert.equal(a.type, b.type, `frame ${i} type`);
    assert.equal(a.pathHash, b.pathHash, `frame ${i} path hash`);
    assert.deepEqual(a.data(input), b.data(input), `frame ${i} data`);
    assert.equal(a.frameStart, b.frameStart, `frame ${i} start`);
    assert.equal(a.frameEnd, b.frameEnd, `frame ${i} end`);
    kinds.push(a.pathKind);
  }
  // A string path is reported as its hash.
  assert.deepEqual(kinds, [PATH_NONE, PATH_HASH, PATH_HASH]);
  assert.equal(a.next() || b.next(), false);
});

Deno.test("ProtobufEsCodec stops at a partial frame and says how long it is", () => {
  const pb = new ProtobufEsCodec();
  const whole = requestFrame({
    requestId: 1,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "pathHash", value: 5 },
    data: new Uint8Array(40),
  });
  const input = concat(requestFrame({ requestId: 2, requestType: 1 }), whole);
  const cut = input.subarray(0, input.length - 5);
  assert.equal(pb.decodeRequests(cut, 1 << 20), 1);
  assert.equal(pb.words[H_CONSUMED], input.length - whole.length);
  assert.equal(pb.words[H_NEED], whole.length);
  assert.equal(pb.words[H_ERROR], 0);
});

Deno.test("ProtobufEsCodec flags truncated fields, bad UTF-8 and oversize prefixes", () => {
  const pb = new ProtobufEsCodec();
  // Field 10 claims 5 bytes, the frame holds 1.
  assert.equal(pb.decodeRequests(new Uint8Array([3, 0x52, 5, 1]), 1 << 20), 0);
  assert.notEqual(pb.words[H_ERROR], 0);
  // Field 4 (path) holds 0xff, which is not UTF-8.
  assert.equal(
    pb.decodeRequests(new Uint8Array([3, 0x22, 1, 0xff]), 1 << 20),
    0,
  );
  assert.notEqual(pb.words[H_ERROR], 0);
  // A prefix over the limit is refused before its bytes arrive.
  assert.equal(pb.decodeRequests(new Uint8Array([0x80, 0x08]), 100), 0);
  assert.notEqual(pb.words[H_ERROR], 0);
  // Eleven continuation bytes: no varint.
  assert.equal(pb.decodeRequests(new Uint8Array(11).fill(0x80), 100), 0);
  assert.notEqual(pb.words[H_ERROR], 0);
});

Deno.test("ProtobufEsCodec encodes responses protobuf-es and WASM agree on", () => {
  const pb = new ProtobufEsCodec();
  const fields = [1, ResponseType.PONG, Status.OK, -9, 2, 2, 70000, 2, 1];
  const messages = [undefined, "No handler for path /x", undefined];
  const payloads = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(200)];
  assert.deepEqual(
    pb.encodeResponses(fields, messages, payloads, 3),
    codec.encodeResponses(fields, messages, payloads, 3),
  );
});

Deno.test("Server with ProtobufEsCodec answers ping, echo and not-found over TCP", async () => {
  const options: InternalServerOptions = {
    codec: new ProtobufEsCodec(),
    logLevel: "error",
  };
  const server = new Server(options);
  server.handle("/echo", (ctx) => ctx.data);
  const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await RawClient.connect(listener.addr);
  try {
    const pong = await peer.call({
      requestId: 11,
      requestType: RequestType.PING,
    });
    assert.equal(pong.requestId, 11);
    assert.equal(pong.responseType, ResponseType.PONG);
    assert.equal(pong.responseStatus, Status.OK);

    const data = new TextEncoder().encode("hello");
    for (
      const pathOneof of [
        { case: "path", value: "/echo" },
        { case: "pathHash", value: fnv1a("/echo") },
      ] as const
    ) {
      const echo = await peer.call({
        requestId: 12,
        requestType: RequestType.REQUEST,
        pathOneof,
        data,
      });
      assert.equal(echo.requestId, 12);
      assert.equal(echo.responseType, ResponseType.RESPONSE);
      assert.equal(echo.responseStatus, Status.OK);
      assert.deepEqual(echo.data, data);
    }

    const missing = await peer.call({
      requestId: 13,
      requestType: RequestType.REQUEST,
      pathOneof: { case: "path", value: "/nope" },
    });
    assert.equal(missing.requestId, 13);
    assert.equal(missing.responseStatus, Status.NOT_FOUND);
    assert.match(missing.responseMessage, /No handler/);

    // A pipelined batch in one write comes back complete and in order.
    await peer.write(concat(
      ...Array.from({ length: 50 }, (_, i) =>
        requestFrame({
          requestId: 100 + i,
          requestType: RequestType.REQUEST,
          pathOneof: { case: "pathHash", value: fnv1a("/echo") },
          data: new Uint8Array([i]),
        })),
    ));
    for (let i = 0; i < 50; i++) {
      const r = await peer.read();
      assert.equal(r.requestId, 100 + i);
      assert.deepEqual(r.data, new Uint8Array([i]));
    }

    await peer.write(new Uint8Array([3, 0x52, 5, 1]));
    assert.equal(await peer.closedByServer(), true);
  } finally {
    peer.close();
    await server.shutdown();
  }
});

Deno.test("ProtobufEsCodec.encodeResponses copies PRE_ENCODED frames as they are, like the WASM codec", () => {
  const pb = new ProtobufEsCodec();
  const update = pb.encodeResponses([7, 3, 1], [undefined], [
    new Uint8Array([9, 9]),
  ], 1);
  const fields = [1, 2, 1, 0, PRE_ENCODED, 0, 2, 2, 4];
  const messages = [undefined, undefined, "failed"];
  const payloads = [new Uint8Array([1]), update, new Uint8Array()];
  assert.deepEqual(
    pb.encodeResponses(fields, messages, payloads, 3),
    codec.encodeResponses(fields, messages, payloads, 3),
  );
});
