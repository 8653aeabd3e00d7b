// Codec benchmarks: the WebAssembly batch codec against the protobuf-es
// baseline, on the same bytes, in the same run (`deno task bench`).
//
// Every pair does the same work per iteration and ends in the same result
// a server or client needs: for decoding, each request's id, type, 32-bit
// path hash and a view of its data; for encoding, one buffer holding every
// frame back to back.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  sizeDelimitedEncode,
  sizeDelimitedPeek,
} from "@bufbuild/protobuf/wire";
import {
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { codec } from "../wasm/codec.ts";
import { RequestFrames } from "../wasm/frames.ts";
import { fnv1a, RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { asciiPath, concat, Rng, utf8 } from "../wasm/_test_utils.ts";
import { frameBodies } from "./pb_codec.ts";

const FRAMES = 1000;
const MAX_MESSAGE = 1 << 20;
const rng = new Rng(0x5eed);

const paths = Array.from(
  { length: FRAMES },
  () => asciiPath(rng, rng.range(16, 64)),
);
const pathBytes = paths.map((p) => utf8.encode(p));
const payloads = Array.from({ length: FRAMES }, () => rng.bytes(32));
const ids = Array.from({ length: FRAMES }, (_, i) => i + 1);

/** 1,000 REQUEST frames with string paths, as a client sends them. */
const withPaths = concat(paths.map((path, i) =>
  sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: ids[i],
      requestType: RequestType.REQUEST,
      pathOneof: { case: "path", value: path },
      data: payloads[i],
    }),
  )
));

/** The same requests sending the precomputed `path_hash` instead. */
const withHashes = concat(paths.map((path, i) =>
  sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: ids[i],
      requestType: RequestType.REQUEST,
      pathOneof: { case: "pathHash", value: fnv1a(path) },
      data: payloads[i],
    }),
  )
));

// Results are folded into a checksum so no work can be optimised away.
let sink = 0;

const frames = new RequestFrames();

/** Decodes with the WASM codec and walks the table like the server does. */
function wasmDecode(input: Uint8Array): void {
  codec.decodeRequests(input, MAX_MESSAGE);
  frames.load(codec.words);
  while (frames.next()) {
    const data = frames.data(input);
    sink += frames.id + frames.type + frames.pathHash + data.length;
  }
  if (frames.count !== FRAMES) {
    throw new Error(`decoded ${frames.count} of ${FRAMES} frames`);
  }
}

/** Both decoders, once, kept honest: they must see the same requests. */
function sameResults(): void {
  codec.decodeRequests(withPaths, MAX_MESSAGE);
  frames.load(codec.words);
  let offset = 0;
  while (frames.next()) {
    const size = sizeDelimitedPeek(withPaths.subarray(offset));
    if (size.eof) throw new Error("short buffer");
    const start = offset + size.offset;
    offset = start + size.size;
    const msg = fromBinary(
      NanoRPCRequestSchema,
      withPaths.subarray(start, offset),
    );
    if (
      msg.requestId !== frames.id ||
      msg.pathOneof.case !== "path" ||
      fnv1a(msg.pathOneof.value) !== frames.pathHash ||
      msg.data.length !== frames.dataLength
    ) throw new Error(`decoders disagree on frame ${frames.index}`);
  }
}
sameResults();

Deno.bench({
  name: "wasm decodeRequests: 1,000 frames, hashing string paths",
  group: "decode",
  baseline: true,
  fn() {
    wasmDecode(withPaths);
  },
});

Deno.bench({
  name: "protobuf-es sizeDelimitedPeek + fromBinary + TS fnv1a(path)",
  group: "decode",
  fn() {
    // What sizeDelimitedDecodeStream does per frame, without its async
    // generator overhead: peek the size, decode the message in place.
    let offset = 0;
    let n = 0;
    while (offset < withPaths.length) {
      const size = sizeDelimitedPeek(withPaths.subarray(offset));
      if (size.eof) break;
      const start = offset + size.offset;
      offset = start + size.size;
      const msg = fromBinary(
        NanoRPCRequestSchema,
        withPaths.subarray(start, offset),
      );
      const hash = msg.pathOneof.case === "path"
        ? fnv1a(msg.pathOneof.value)
        : msg.pathOneof.value ?? 0;
      sink += msg.requestId + msg.requestType + hash + msg.data.length;
      n++;
    }
    if (n !== FRAMES) throw new Error(`decoded ${n} of ${FRAMES} frames`);
  },
});

// FNV-1a: the bar is that hashing inside the WASM batch is not slower than
// a TS loop over the same 16–64 byte paths. Hashing cannot be switched off
// in the codec, so the two sides are "decode + hash" done two ways:
//  - wasm: decode the frames carrying string paths; the hash is computed in
//    the batch, in the same pass that finds the path;
//  - TS: decode the frames carrying path_hash (so the codec hashes nothing)
//    and hash the same 1,000 path byte strings with a TS FNV-1a loop.
// The path_hash frames are shorter than the string-path ones, which only
// favours the TS side. A third bench shows decode alone (no hashing), so
// the difference to it is what hashing costs either way.

function tsFnv1aBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return h >>> 0;
}

Deno.bench({
  name: "wasm: decode 1,000 string-path frames, FNV-1a inside the batch",
  group: "fnv1a",
  baseline: true,
  fn() {
    wasmDecode(withPaths);
  },
});

Deno.bench({
  name: "TS: decode 1,000 path_hash frames + TS FNV-1a loop over the paths",
  group: "fnv1a",
  fn() {
    wasmDecode(withHashes);
    for (let i = 0; i < FRAMES; i++) sink += tsFnv1aBytes(pathBytes[i]);
  },
});

Deno.bench({
  name: "reference: decode 1,000 path_hash frames, no hashing at all",
  group: "fnv1a",
  fn() {
    wasmDecode(withHashes);
  },
});

Deno.bench({
  name: "reference: TS fnv1a(string) over the 1,000 paths alone",
  group: "fnv1a",
  fn() {
    for (let i = 0; i < FRAMES; i++) sink += fnv1a(paths[i]);
  },
});

// Encoding 1,000 RESPONSE frames with 32-byte payloads into one buffer.
// Each side starts from its own ready-made input (the codec's flat field
// array, protobuf-es's message objects) and ends with one Uint8Array. The
// codec writes response headers in TypeScript (wasm/_responses.ts): for a
// few bytes per frame that beats a round trip through the module's table.

const fields = new Int32Array(FRAMES * 3);
for (let i = 0; i < FRAMES; i++) {
  fields[i * 3] = ids[i];
  fields[i * 3 + 1] = ResponseType.RESPONSE;
  fields[i * 3 + 2] = Status.OK;
}
const messages: (string | undefined)[] = new Array(FRAMES).fill(undefined);
const responses = ids.map((id, i) =>
  create(NanoRPCResponseSchema, {
    requestId: id,
    responseType: ResponseType.RESPONSE,
    responseStatus: Status.OK,
    data: payloads[i],
  })
);

Deno.bench({
  name: "codec encodeResponses: 1,000 responses into one buffer",
  group: "encode",
  baseline: true,
  fn() {
    sink += codec.encodeResponses(fields, messages, payloads, FRAMES).length;
  },
});

Deno.bench({
  name: "protobuf-es sizeDelimitedEncode x1,000, concatenated",
  group: "encode",
  fn() {
    const parts = new Array<Uint8Array>(FRAMES);
    for (let i = 0; i < FRAMES; i++) {
      parts[i] = sizeDelimitedEncode(NanoRPCResponseSchema, responses[i]);
    }
    sink += concat(parts).length;
  },
});

Deno.bench({
  name: "protobuf-es toBinary x1,000, framed by hand into one buffer",
  group: "encode",
  fn() {
    // The cheapest honest protobuf-es route: toBinary each message, then
    // write prefix + body into one buffer sized up front.
    const bodies = new Array<Uint8Array>(FRAMES);
    let size = 0;
    for (let i = 0; i < FRAMES; i++) {
      bodies[i] = toBinary(NanoRPCResponseSchema, responses[i]);
      size += bodies[i].length + 5;
    }
    sink += frameBodies(bodies, size).length;
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
