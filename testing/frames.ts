/**
 * Test kit: NanoRPC frames built and split by protobuf-es, independently of
 * the project's WASM codec, so tests check the wire and not our own
 * decoder against itself. A frame is a varint length prefix and one
 * `NanoRPCRequest` or `NanoRPCResponse`.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  BinaryWriter,
  sizeDelimitedEncode,
  sizeDelimitedPeek,
} from "@bufbuild/protobuf/wire";
import {
  type NanoRPCRequest,
  NanoRPCRequest_Type,
  NanoRPCRequestSchema,
  type NanoRPCResponse,
  NanoRPCResponse_Status,
  NanoRPCResponse_Type,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";

export type { NanoRPCRequest, NanoRPCResponse };

/** Request type PING (`NanoRPCRequest.Type`). */
export const PING = NanoRPCRequest_Type.PING;
/** Request type REQUEST; also unsubscribes when sent on a subscription's id. */
export const REQUEST = NanoRPCRequest_Type.REQUEST;
/** Request type SUBSCRIBE. */
export const SUBSCRIBE = NanoRPCRequest_Type.SUBSCRIBE;
/** Response type PONG (`NanoRPCResponse.Type`). */
export const PONG = NanoRPCResponse_Type.PONG;
/** Response type RESPONSE. */
export const RESPONSE = NanoRPCResponse_Type.RESPONSE;
/** Response type UPDATE. */
export const UPDATE = NanoRPCResponse_Type.UPDATE;

/** The fields of a request frame, as protobuf-es `create` takes them. */
export type RequestInit = MessageInitShape<typeof NanoRPCRequestSchema>;
/** The fields of a response frame, as protobuf-es `create` takes them. */
export type ResponseInit = MessageInitShape<typeof NanoRPCResponseSchema>;

/**
 * The fields of a request to `path` by its string (what most raw-frame
 * tests send): a REQUEST unless `requestType` says otherwise.
 *
 * @param requestId The request's id.
 * @param path The path, sent as a string.
 * @param data The request's data; none by default.
 * @param requestType REQUEST, SUBSCRIBE or PING; REQUEST by default.
 * @returns The request's fields, for `requestFrame` or `RawClient.call`.
 *
 * @example
 * ```ts
 * import { pathRequest, requestFrame } from "./frames.ts";
 *
 * const frame = requestFrame(pathRequest(1, "/echo", new Uint8Array([1])));
 * ```
 */
export function pathRequest(
  requestId: number,
  path: string,
  data: Uint8Array = new Uint8Array(),
  requestType: NanoRPCRequest_Type = REQUEST,
): RequestInit & { pathOneof: { case: "path"; value: string } } {
  return {
    requestId,
    requestType,
    pathOneof: { case: "path", value: path },
    data,
  };
}

/**
 * Encodes one request as a length-delimited frame.
 *
 * @param init The request's fields.
 * @returns The frame's bytes.
 *
 * @example
 * ```ts
 * import { requestFrame, REQUEST } from "./frames.ts";
 *
 * const bytes = requestFrame({
 *   requestId: 1,
 *   requestType: REQUEST,
 *   pathOneof: { case: "path", value: "/echo" },
 *   data: new Uint8Array([1]),
 * });
 * ```
 */
export function requestFrame(init: RequestInit): Uint8Array {
  return sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, init),
  );
}

/**
 * Encodes one response as a length-delimited frame. The status is OK
 * unless `init` says otherwise.
 *
 * @param init The response's fields.
 * @returns The frame's bytes.
 *
 * @example
 * ```ts
 * import { RESPONSE, responseFrame } from "./frames.ts";
 *
 * const bytes = responseFrame({ requestId: 1, responseType: RESPONSE });
 * ```
 */
export function responseFrame(init: ResponseInit): Uint8Array {
  return sizeDelimitedEncode(
    NanoRPCResponseSchema,
    create(NanoRPCResponseSchema, {
      responseStatus: NanoRPCResponse_Status.OK,
      ...init,
    }),
  );
}

/**
 * The varint encoding of `n`, for hand-made (often malformed) frames.
 *
 * @param n An integer in [0, 2^32).
 * @returns Its varint bytes.
 *
 * @example
 * ```ts
 * import { varint } from "./frames.ts";
 *
 * varint(300); // Uint8Array [0xac, 0x02]
 * ```
 */
export function varint(n: number): Uint8Array {
  return new BinaryWriter().uint32(n).finish();
}

/**
 * Concatenates byte arrays.
 *
 * @param parts The arrays, in order.
 * @returns One new array holding them all.
 *
 * @example
 * ```ts
 * import { concat } from "./frames.ts";
 *
 * concat(new Uint8Array([1]), new Uint8Array([2, 3])); // [1, 2, 3]
 * ```
 */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** Bounds of a {@link FrameSplitter}. */
export interface FrameSplitterOptions {
  /**
   * Largest message a frame may claim, in bytes; 16 MiB by default. A
   * larger claim throws instead of buffering toward it.
   */
  maxFrameSize?: number;
}

/**
 * Splits a byte stream into messages of one schema, whatever the chunk
 * boundaries: bytes of an unfinished frame wait for the next chunk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
 * import { FrameSplitter, RESPONSE, responseFrame } from "./frames.ts";
 *
 * const splitter = new FrameSplitter(NanoRPCResponseSchema);
 * const bytes = responseFrame({ requestId: 5, responseType: RESPONSE });
 * assert.deepEqual(splitter.push(bytes.subarray(0, 2)), []);
 * assert.equal(splitter.push(bytes.subarray(2))[0].requestId, 5);
 * ```
 */
export class FrameSplitter<Desc extends DescMessage> {
  readonly #schema: Desc;
  readonly #max: number;
  #buf: Uint8Array = new Uint8Array(0);

  /**
   * Makes a splitter with nothing buffered.
   *
   * @param schema The message every frame holds.
   * @param options The frame size bound.
   */
  constructor(schema: Desc, options: FrameSplitterOptions = {}) {
    this.#schema = schema;
    this.#max = options.maxFrameSize ?? 16 * 1024 * 1024;
  }

  /** Bytes of an unfinished frame held back. */
  get buffered(): number {
    return this.#buf.length;
  }

  /**
   * Adds a chunk and returns the messages it completes, in order.
   *
   * @param chunk The next bytes of the stream.
   * @throws {RangeError} When a frame claims more than `maxFrameSize`.
   * @throws {Error} When a complete frame does not decode.
   */
  push(chunk: Uint8Array): MessageShape<Desc>[] {
    this.#buf = this.#buf.length ? concat(this.#buf, chunk) : chunk.slice();
    const out: MessageShape<Desc>[] = [];
    for (;;) {
      const peek = sizeDelimitedPeek(this.#buf);
      if (peek.eof) break;
      if (peek.size > this.#max) {
        throw new RangeError(
          `A frame claims ${peek.size} bytes, more than the ${this.#max} allowed; raise maxFrameSize if that is meant`,
        );
      }
      const end = peek.offset + peek.size;
      if (end > this.#buf.length) break;
      out.push(fromBinary(this.#schema, this.#buf.subarray(peek.offset, end)));
      this.#buf = this.#buf.subarray(end);
    }
    return out;
  }
}

/**
 * Decodes bytes that hold whole frames only.
 *
 * @param schema The message every frame holds.
 * @param bytes The frames.
 * @returns The messages, in order.
 * @throws {Error} When the bytes end inside a frame.
 *
 * @example
 * ```ts
 * import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
 * import { concat, decodeFrames, PING, requestFrame } from "./frames.ts";
 *
 * const [a, b] = decodeFrames(
 *   NanoRPCRequestSchema,
 *   concat(
 *     requestFrame({ requestId: 1, requestType: PING }),
 *     requestFrame({ requestId: 2, requestType: PING }),
 *   ),
 * );
 * ```
 */
export function decodeFrames<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
): MessageShape<Desc>[] {
  const splitter = new FrameSplitter(schema);
  const messages = splitter.push(bytes);
  if (splitter.buffered > 0) {
    throw new Error(
      `The bytes end inside a frame: ${splitter.buffered} bytes left over`,
    );
  }
  return messages;
}
