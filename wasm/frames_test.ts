// The decode-table cursors read what the codec decoded, keep their entries
// when detached from the shared table, and report the decode's header.

import assert from "node:assert/strict";
import { codec, MalformedReason, PATH_HASH, PATH_STRING } from "./codec.ts";
import { RequestFrames, ResponseFrames } from "./frames.ts";
import { fnv1a, RequestType, ResponseType, Status } from "./wire.ts";
import {
  concat,
  create,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
  utf8,
} from "./_test_utils.ts";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";

function request(id: number, path: string, data: number[]): Uint8Array {
  return sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: id,
      requestType: RequestType.REQUEST,
      pathOneof: path.startsWith("#")
        ? { case: "pathHash", value: fnv1a(path.slice(1)) }
        : { case: "path", value: path },
      data: new Uint8Array(data),
    }),
  );
}

/** Decodes `input` as requests and loads a fresh cursor with the result. */
function decodeRequests(input: Uint8Array): RequestFrames {
  codec.decodeRequests(input, 1 << 20);
  return new RequestFrames().load(codec.words);
}

Deno.test("RequestFrames walks every decoded request and reads its columns", () => {
  const first = request(1, "/room/send", [1, 2]);
  const input = concat([first, request(-2, "#/echo", [3])]);
  const frames = decodeRequests(input);
  assert.equal(frames.count, 2);
  assert.equal(frames.consumed, input.length);
  assert.equal(frames.error, 0);
  assert.equal(frames.need, 0);

  assert.equal(frames.next(), true);
  assert.equal(frames.index, 0);
  assert.equal(frames.id, 1);
  assert.equal(frames.type, RequestType.REQUEST);
  assert.equal(frames.pathKind, PATH_STRING);
  assert.equal(frames.pathHash, fnv1a("/room/send"));
  assert.deepEqual(frames.path(input), utf8.encode("/room/send"));
  assert.deepEqual(frames.data(input), new Uint8Array([1, 2]));
  assert.equal(frames.data(input).buffer, input.buffer, "a view, not a copy");
  assert.equal(frames.frameStart, 0);
  assert.equal(frames.frameEnd, first.length);

  assert.equal(frames.next(), true);
  assert.equal(frames.id, -2);
  assert.equal(frames.pathKind, PATH_HASH);
  assert.equal(frames.pathHash, fnv1a("/echo"));
  assert.equal(frames.pathLength, 0);
  assert.deepEqual(frames.data(input), new Uint8Array([3]));
  assert.equal(frames.frameStart, first.length);
  assert.equal(frames.frameEnd, input.length);

  assert.equal(frames.next(), false);
  assert.equal(frames.next(), false, "stays past the end");
});

Deno.test("RequestFrames.detach keeps the current and later entries across another decode", () => {
  const input = concat([
    request(10, "/a", [10]),
    request(11, "/b", [11]),
    request(12, "/c", [12]),
  ]);
  const frames = decodeRequests(input);
  frames.next();
  frames.next();
  frames.detach();
  assert.equal(frames.detached, true);
  // Another connection's read overwrites the shared table.
  codec.decodeRequests(request(99, "/z", [99]), 1 << 20);
  assert.equal(frames.id, 11);
  assert.deepEqual(frames.path(input), utf8.encode("/b"));
  frames.detach(); // no second copy: still the same entries
  assert.equal(frames.next(), true);
  assert.equal(frames.id, 12);
  assert.deepEqual(frames.data(input), new Uint8Array([12]));
  assert.equal(frames.next(), false);
  assert.equal(frames.count, 3);
});

Deno.test("RequestFrames.detach before the first entry keeps them all", () => {
  const input = concat([request(1, "/a", []), request(2, "/b", [])]);
  const frames = decodeRequests(input);
  frames.detach();
  codec.decodeRequests(request(99, "/z", []), 1 << 20);
  const ids = [];
  while (frames.next()) ids.push(frames.id);
  assert.deepEqual(ids, [1, 2]);
});

Deno.test("RequestFrames.load starts over on a new table, attached again", () => {
  const frames = decodeRequests(request(1, "/a", []));
  frames.next();
  frames.detach();
  codec.decodeRequests(request(2, "/b", []), 1 << 20);
  frames.load(codec.words);
  assert.equal(frames.detached, false);
  assert.equal(frames.index, -1);
  assert.equal(frames.next(), true);
  assert.equal(frames.id, 2);
});

/** The data views `frames` hands out for a decode of `input`. */
function views(frames: RequestFrames, input: Uint8Array): Uint8Array[] {
  codec.decodeRequests(input, 1 << 20);
  frames.load(codec.words);
  const out = [];
  while (frames.next()) out.push(frames.data(input));
  return out;
}

Deno.test("RequestFrames made to reuse views hands out the same view for the same frame's bytes in a later decode", () => {
  // One read buffer, read into twice with the same layout, as a server's.
  const buffer = new Uint8Array(64);
  const batch = (a: number, b: number) =>
    concat([request(1, "#/echo", [a, a]), request(2, "#/echo", [b])]);
  const frames = new RequestFrames(true);
  buffer.set(batch(1, 2));
  const first = views(frames, buffer.subarray(0, batch(1, 2).length));
  buffer.set(batch(7, 8));
  const second = views(frames, buffer.subarray(0, batch(7, 8).length));
  assert.equal(second[0], first[0]);
  assert.equal(second[1], first[1]);
  assert.deepEqual(second, [new Uint8Array([7, 7]), new Uint8Array([8])]);

  // Moved data (a longer first frame), or another buffer: new views.
  const moved = concat([
    request(1, "#/echo", [5, 5, 5]),
    request(2, "#/e", [6]),
  ]);
  buffer.set(moved);
  const third = views(frames, buffer.subarray(0, moved.length));
  assert.notEqual(third[0], first[0]);
  assert.notEqual(third[1], first[1]);
  assert.deepEqual(third, [new Uint8Array([5, 5, 5]), new Uint8Array([6])]);
  const other = views(frames, moved.slice());
  assert.notEqual(other[0], third[0]);
  assert.equal(other[0].buffer.byteLength, moved.length);
});

Deno.test("RequestFrames.forgetInput keeps reused views only of the buffer still read into", () => {
  const input = concat([request(1, "#/echo", [1])]);
  const frames = new RequestFrames(true);
  const [kept] = views(frames, input);
  frames.forgetInput(input.buffer);
  assert.equal(views(frames, input)[0], kept);
  frames.forgetInput(new ArrayBuffer(8)); // The read buffer was replaced.
  assert.notEqual(views(frames, input)[0], kept);
});

Deno.test("RequestFrames makes a new view per call unless made to reuse them", () => {
  const input = request(1, "#/echo", [1]);
  const frames = new RequestFrames();
  assert.notEqual(views(frames, input)[0], views(frames, input)[0]);
});

Deno.test("RequestFrames reports a partial frame's length and a malformed frame's place", () => {
  const whole = request(1, "/a", [1, 2, 3]);
  const input = concat([request(7, "/x", []), whole]);
  const partial = decodeRequests(input.subarray(0, input.length - 2));
  assert.equal(partial.count, 1);
  assert.equal(partial.need, whole.length);
  assert.equal(partial.consumed, input.length - whole.length);

  // Field 1 with wire type 7.
  const bad = concat([request(7, "/x", []), new Uint8Array([2, 0x0f, 0])]);
  const malformed = decodeRequests(bad);
  assert.equal(malformed.count, 1);
  assert.equal(malformed.error, MalformedReason.WRONG_WIRE_TYPE);
  assert.equal(malformed.errorAt, bad.length - 3);
});

Deno.test("ResponseFrames reads id, type, status, message and data", () => {
  const input = concat([
    sizeDelimitedEncode(
      NanoRPCResponseSchema,
      create(NanoRPCResponseSchema, {
        requestId: -5,
        responseType: ResponseType.RESPONSE,
        responseStatus: Status.NOT_FOUND,
        responseMessage: "No handler for path /x",
        data: new Uint8Array([4, 5]),
      }),
    ),
    sizeDelimitedEncode(
      NanoRPCResponseSchema,
      create(NanoRPCResponseSchema, {
        requestId: 6,
        responseType: ResponseType.PONG,
      }),
    ),
  ]);
  codec.decodeResponses(input, 1 << 20);
  const frames = new ResponseFrames().load(codec.words);
  assert.equal(frames.count, 2);
  frames.next();
  assert.equal(frames.id, -5);
  assert.equal(frames.type, ResponseType.RESPONSE);
  assert.equal(frames.status, Status.NOT_FOUND);
  assert.equal(
    new TextDecoder().decode(frames.message(input)),
    "No handler for path /x",
  );
  assert.deepEqual(frames.data(input), new Uint8Array([4, 5]));
  assert.equal(frames.frameStart, 0);
  frames.next();
  assert.equal(frames.id, 6);
  assert.equal(frames.status, Status.UNSPECIFIED);
  assert.equal(frames.messageLength, 0);
  assert.equal(frames.dataLength, 0);
  assert.equal(frames.frameEnd, input.length);
  assert.equal(frames.next(), false);
});
