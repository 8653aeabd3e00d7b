/**
 * The benchmark baseline: a {@link RequestCodec} built on protobuf-es
 * alone, so that `nanorpc-protobuf-es` runs the very same server as
 * `nanorpc-wasm` with only the frame codec swapped. It is written the way a
 * careful user of protobuf-es would write it — `sizeDelimitedPeek` to split,
 * `fromBinary` to decode in place (no copy of `data`), a TS FNV-1a for
 * string paths, `create` + `toBinary` to encode — and fills the same result
 * table as the WebAssembly codec (layout in wasm/layout.ts), so one
 * `RequestFrames` cursor (wasm/frames.ts) walks both.
 *
 * Differences from the WASM codec, all in the baseline's favour or neutral:
 * a string path is reported as its hash (kind PATH_HASH), so the server
 * skips comparing the path bytes with the route's; unknown fields are not
 * kept; a frame is malformed exactly when protobuf-es throws (plus the
 * prefix checks a server needs: over-long varint, over-size prefix).
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { sizeDelimitedPeek } from "@bufbuild/protobuf/wire";
import {
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import type { RequestCodec } from "../server/_core.ts";
import {
  H_CONSUMED,
  H_COUNT,
  H_ERROR,
  H_ERROR_AT,
  H_NEED,
  HEADER,
  MAX_FRAMES,
  PATH_HASH,
  PATH_NONE,
  RQ_DATA_LEN,
  RQ_DATA_OFF,
  RQ_FRAME_END,
  RQ_FRAME_START,
  RQ_ID,
  RQ_PATH_HASH,
  RQ_PATH_KIND,
  RQ_PATH_LEN,
  RQ_PATH_OFF,
  RQ_TYPE,
  STRIDE,
} from "../wasm/layout.ts";
import { MalformedReason } from "../wasm/malformed.ts";
import { PRE_ENCODED } from "../wasm/codec.ts";
import { concat } from "../wasm/_bytes.ts";
import { fnv1a } from "../wasm/wire.ts";

const READ_OPTIONS = { readUnknownFields: false } as const;

/**
 * A request codec that decodes and encodes with protobuf-es only.
 *
 * @example
 * ```ts
 * import type { InternalServerOptions } from "../server/_core.ts";
 * import { Server } from "../server/server.ts";
 * import { ProtobufEsCodec } from "./pb_codec.ts";
 *
 * const options: InternalServerOptions = { codec: new ProtobufEsCodec() };
 * const server = new Server(options);
 * server.handle("/echo", (ctx) => ctx.data);
 * ```
 */
export class ProtobufEsCodec implements RequestCodec {
  /** The result table, laid out as the WebAssembly codec lays out its own. */
  readonly words: Int32Array = new Int32Array(HEADER + MAX_FRAMES * STRIDE);

  /**
   * Splits and decodes every complete request frame of `input` (at most
   * `MAX_FRAMES`), stopping at a partial frame or the first malformed one.
   *
   * @param input Bytes read from a peer; decoded data stays a view of them.
   * @param maxMessageSize Largest frame body accepted.
   * @returns The number of decoded frames (entries in {@link words}).
   */
  decodeRequests(input: Uint8Array, maxMessageSize: number): number {
    const w = this.words;
    let offset = 0;
    let count = 0;
    let error = 0;
    let need = 0;
    while (count < MAX_FRAMES && offset < input.length) {
      const rest = input.subarray(offset);
      let size: number;
      let bodyAt: number;
      try {
        const peek = sizeDelimitedPeek(rest);
        if (peek.eof) break;
        size = peek.size;
        bodyAt = peek.offset;
      } catch {
        error = MalformedReason.VARINT_TOO_LONG;
        break;
      }
      if (size > maxMessageSize || over32Bits(rest, bodyAt)) {
        error = MalformedReason.FRAME_TOO_LARGE;
        break;
      }
      if (bodyAt + size > rest.length) {
        need = bodyAt + size;
        break;
      }
      const start = offset + bodyAt;
      const end = start + size;
      let msg;
      try {
        msg = fromBinary(
          NanoRPCRequestSchema,
          input.subarray(start, end),
          READ_OPTIONS,
        );
      } catch (err) {
        error = reasonOf(err);
        break;
      }
      const e = HEADER + count * STRIDE;
      w[e + RQ_ID] = msg.requestId;
      w[e + RQ_TYPE] = msg.requestType;
      const path = msg.pathOneof;
      if (path.case === "path") {
        w[e + RQ_PATH_KIND] = PATH_HASH;
        w[e + RQ_PATH_HASH] = fnv1a(path.value);
      } else if (path.case === "pathHash") {
        w[e + RQ_PATH_KIND] = PATH_HASH;
        w[e + RQ_PATH_HASH] = path.value;
      } else {
        w[e + RQ_PATH_KIND] = PATH_NONE;
        w[e + RQ_PATH_HASH] = 0;
      }
      w[e + RQ_PATH_OFF] = 0;
      w[e + RQ_PATH_LEN] = 0;
      const data = msg.data;
      // protobuf-es decodes `bytes` as a view of the input: its offset in
      // the input is where the data is.
      w[e + RQ_DATA_OFF] = data.length > 0
        ? data.byteOffset - input.byteOffset
        : 0;
      w[e + RQ_DATA_LEN] = data.length;
      w[e + RQ_FRAME_START] = offset;
      w[e + RQ_FRAME_END] = end;
      offset = end;
      count++;
    }
    w[H_COUNT] = count;
    w[H_CONSUMED] = offset;
    w[H_ERROR] = error;
    w[H_ERROR_AT] = error ? offset : 0;
    w[H_NEED] = need;
    return count;
  }

  /**
   * Encodes `count` response frames into one buffer: a message per frame
   * with `create`, its body with `toBinary`, each behind its varint length.
   *
   * @param fields Three numbers per frame: request id, type, status.
   * @param messages The response message of each frame, if any.
   * @param payloads The data of each frame.
   * @param count How many frames.
   * @returns The frames back to back.
   */
  encodeResponses(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array {
    for (let i = 0; i < count; i++) {
      if (fields[i * 3 + 1] === PRE_ENCODED) {
        return this.#withPreEncoded(fields, messages, payloads, count);
      }
    }
    const bodies = new Array<Uint8Array>(count);
    let size = 0;
    for (let i = 0; i < count; i++) {
      const body = toBinary(
        NanoRPCResponseSchema,
        create(NanoRPCResponseSchema, {
          requestId: fields[i * 3],
          responseType: fields[i * 3 + 1],
          responseStatus: fields[i * 3 + 2],
          responseMessage: messages[i] ?? "",
          data: payloads[i],
        }),
      );
      bodies[i] = body;
      size += body.length + varintSize(body.length);
    }
    return frameBodies(bodies, size);
  }

  /** Frames of type PRE_ENCODED as they are, the others one by one. */
  #withPreEncoded(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      parts.push(
        fields[i * 3 + 1] === PRE_ENCODED ? payloads[i] : this.encodeResponses(
          [fields[i * 3], fields[i * 3 + 1], fields[i * 3 + 2]],
          [messages[i]],
          [payloads[i]],
          1,
        ),
      );
    }
    return concat(parts);
  }

  /** {@link encodeResponses}, copied into `out` at `at`. */
  encodeResponsesInto(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
    out: Uint8Array,
    at: number,
  ): number {
    const frames = this.encodeResponses(fields, messages, payloads, count);
    out.set(frames, at);
    return at + frames.length;
  }
}

/**
 * Writes each body behind its varint length prefix into one buffer of
 * `size` bytes (at least the framed total): what protobuf-es leaves to the
 * caller after `toBinary`.
 */
export function frameBodies(
  bodies: readonly Uint8Array[],
  size: number,
): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const body of bodies) {
    let n = body.length;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(body, at);
    at += body.length;
  }
  return out.subarray(0, at);
}

/**
 * Whether the varint in `bytes[0, n)` holds bits past 32: a size that
 * large is over any limit, but sizeDelimitedPeek returns its low 32 bits.
 */
function over32Bits(bytes: Uint8Array, n: number): boolean {
  if (n < 5) return false;
  if (bytes[4] & 0x70) return true;
  for (let i = 5; i < n; i++) if (bytes[i] & 0x7f) return true;
  return false;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}

/** Maps what protobuf-es threw to the closest malformed-frame reason. */
function reasonOf(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError || /premature EOF/i.test(message)) {
    return MalformedReason.TRUNCATED;
  }
  if (/utf-?8|encoded data/i.test(message) || err instanceof TypeError) {
    return MalformedReason.INVALID_UTF8;
  }
  if (/wire type/i.test(message)) return MalformedReason.BAD_WIRE_TYPE;
  if (/varint/i.test(message)) return MalformedReason.VARINT_TOO_LONG;
  if (/tag|field no/i.test(message)) return MalformedReason.BAD_TAG;
  return MalformedReason.TRUNCATED;
}
