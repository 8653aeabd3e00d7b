// Helpers shared by the codec tests and benchmarks: a seeded PRNG so every
// failure reproduces, generators of random NanoRPC messages written with
// protobuf-es's BinaryWriter (so field order, duplicates and unknown fields
// can be chosen freely), and the codec's results read through the cursors
// of frames.ts.

import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type NanoRPCRequest,
  NanoRPCRequestSchema,
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { codec, PATH_HASH, PATH_NONE, PATH_STRING } from "./codec.ts";
import { RequestFrames, ResponseFrames } from "./frames.ts";
import { fnv1a } from "./wire.ts";
export { concat } from "./_bytes.ts";

export { create, fromBinary, NanoRPCRequestSchema, NanoRPCResponseSchema };
export type { NanoRPCRequest, NanoRPCResponse };

/** A seeded pseudo-random source (mulberry32); same seed, same sequence. */
export class Rng {
  #s: number;
  constructor(readonly seed: number) {
    this.#s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  u32(): number {
    return (this.next() * 4294967296) >>> 0;
  }
  /** An int32 biased towards edge cases and negative numbers. */
  i32(): number {
    return this.pick([0, 1, -1, 127, 128, -2147483648, 2147483647]) ^
      (this.chance(0.6) ? this.u32() | 0 : 0);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

const CODE_POINT_RANGES: readonly [number, number][] = [
  [0x20, 0x7e],
  [0x80, 0x7ff],
  [0x800, 0xd7ff],
  [0xe000, 0xffff],
  [0x10000, 0x10ffff],
];

/** A well-formed string mixing 1-, 2-, 3- and 4-byte UTF-8 characters. */
export function randomText(rng: Rng, maxChars: number): string {
  const n = rng.int(maxChars + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    const [lo, hi] = rng.chance(0.5) ? CODE_POINT_RANGES[0] : rng.pick(
      CODE_POINT_RANGES,
    );
    s += String.fromCodePoint(rng.range(lo, hi));
  }
  return s;
}

/** An ASCII path of exactly `len` bytes, e.g. `/room.member/abc...`. */
export function asciiPath(rng: Rng, len: number): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789_./";
  let s = "/";
  while (s.length < len) s += chars[rng.int(chars.length)];
  return s;
}

export const utf8 = new TextEncoder();

const KNOWN_REQUEST_FIELDS = [1, 2, 3, 4, 10];

/** A field number the schema does not know (both message kinds). */
export function unknownFieldNo(rng: Rng): number {
  for (;;) {
    const n = rng.chance(0.7) ? rng.range(1, 40) : rng.range(1, 536870911);
    if (!KNOWN_REQUEST_FIELDS.includes(n)) return n;
  }
}

/** Writes one unknown field of wire type 0, 1, 2 or 5. */
export function writeUnknown(w: BinaryWriter, rng: Rng): void {
  const no = unknownFieldNo(rng);
  switch (rng.int(4)) {
    case 0:
      w.tag(no, WireType.Varint).uint64(
        BigInt.asUintN(64, BigInt(rng.u32()) << BigInt(rng.int(40))),
      );
      break;
    case 1:
      w.tag(no, WireType.Bit64).fixed64(BigInt(rng.u32()));
      break;
    case 2:
      w.tag(no, WireType.LengthDelimited).bytes(rng.bytes(rng.int(20)));
      break;
    default:
      w.tag(no, WireType.Bit32).fixed32(rng.u32());
  }
}

export interface BodyOptions {
  /** Largest data length (default 64). */
  maxData?: number;
  /** Chance that a data field is `maxData` long (default 0). */
  bigData?: number;
}

/**
 * A random NanoRPCRequest body: fields in random order, some repeated, with
 * unknown fields of every allowed wire type, both path forms, negative ids.
 */
export function randomRequestBody(
  rng: Rng,
  options: BodyOptions = {},
): Uint8Array {
  const maxData = options.maxData ?? 64;
  const w = new BinaryWriter();
  const fields = rng.int(9);
  for (let i = 0; i < fields; i++) {
    switch (rng.int(7)) {
      case 0:
        w.tag(1, WireType.Varint).int32(rng.i32());
        break;
      case 1:
        w.tag(2, WireType.Varint).int32(
          rng.chance(0.8) ? rng.int(4) : rng.i32(),
        );
        break;
      case 2:
        w.tag(3, WireType.Varint).uint32(rng.u32());
        break;
      case 3:
        w.tag(4, WireType.LengthDelimited).string(randomText(rng, 24));
        break;
      case 4: {
        const n = rng.chance(options.bigData ?? 0) ? maxData : rng.int(maxData);
        w.tag(10, WireType.LengthDelimited).bytes(rng.bytes(n));
        break;
      }
      default:
        writeUnknown(w, rng);
    }
  }
  return w.finish();
}

/** Response counterpart of {@link randomRequestBody}. */
export function randomResponseBody(rng: Rng, maxData = 64): Uint8Array {
  const w = new BinaryWriter();
  const fields = rng.int(9);
  for (let i = 0; i < fields; i++) {
    const kind = rng.int(7);
    if (kind <= 2) {
      w.tag(kind + 1, WireType.Varint).int32(
        rng.chance(0.7) ? rng.int(5) : rng.i32(),
      );
    } else if (kind === 3) {
      w.tag(4, WireType.LengthDelimited).string(randomText(rng, 24));
    } else if (kind === 4) {
      w.tag(10, WireType.LengthDelimited).bytes(rng.bytes(rng.int(maxData)));
    } else {
      writeUnknown(w, rng);
    }
  }
  return w.finish();
}

/** Prefixes a body with its varint length. */
export function frame(body: Uint8Array): Uint8Array {
  return new BinaryWriter().bytes(body).finish();
}

/** The header of the last decode call. */
export interface Header {
  count: number;
  consumed: number;
  error: number;
  errorAt: number;
  need: number;
}

export function header(): Header {
  const f = new RequestFrames().load(codec.words);
  return {
    count: f.count,
    consumed: f.consumed,
    error: f.error,
    errorAt: f.errorAt,
    need: f.need,
  };
}

/** A decoded request entry with its path and data copied out. */
export interface RequestEntry {
  id: number;
  type: number;
  kind: number;
  hash: number;
  path: Uint8Array;
  data: Uint8Array;
  start: number;
  end: number;
}

/** The request entries of the last decode of `input`. */
export function requestEntries(input: Uint8Array): RequestEntry[] {
  const f = new RequestFrames().load(codec.words);
  const out: RequestEntry[] = [];
  while (f.next()) {
    out.push({
      id: f.id,
      type: f.type,
      kind: f.pathKind,
      hash: f.pathHash,
      path: f.path(input).slice(),
      data: f.data(input).slice(),
      start: f.frameStart,
      end: f.frameEnd,
    });
  }
  return out;
}

/** Decodes `input` as requests and returns the header and entries. */
export function decodeRequests(
  input: Uint8Array,
  maxMessageSize = 1 << 20,
): Header & { entries: RequestEntry[] } {
  codec.decodeRequests(input, maxMessageSize);
  return { ...header(), entries: requestEntries(input) };
}

/** Every offset/length pair of the last decode lies within `length`. */
export function offsetsInBounds(length: number, responses = false): boolean {
  const inside = (o: number, n: number) => o >= 0 && n >= 0 && o + n <= length;
  if (responses) {
    const f = new ResponseFrames().load(codec.words);
    while (f.next()) {
      if (
        f.frameStart < 0 || f.frameStart > f.frameEnd || f.frameEnd > length ||
        !inside(f.messageOffset, f.messageLength) ||
        !inside(f.dataOffset, f.dataLength)
      ) return false;
    }
    return true;
  }
  const f = new RequestFrames().load(codec.words);
  while (f.next()) {
    if (
      f.frameStart < 0 || f.frameStart > f.frameEnd || f.frameEnd > length ||
      !inside(f.pathOffset, f.pathLength) || !inside(f.dataOffset, f.dataLength)
    ) return false;
  }
  return true;
}

/** What protobuf-es says a request entry must look like. */
export function expectedRequest(msg: NanoRPCRequest): Omit<
  RequestEntry,
  "start" | "end"
> {
  const oneof = msg.pathOneof;
  return {
    id: msg.requestId,
    type: msg.requestType,
    kind: oneof.case === "path"
      ? PATH_STRING
      : oneof.case === "pathHash"
      ? PATH_HASH
      : PATH_NONE,
    hash: oneof.case === "path"
      ? fnv1a(oneof.value)
      : oneof.case === "pathHash"
      ? oneof.value
      : 0,
    path: oneof.case === "path" ? utf8.encode(oneof.value) : new Uint8Array(0),
    data: msg.data,
  };
}

/** A request entry without its frame offsets, to compare with the oracle. */
export function withoutFrame(
  e: RequestEntry,
): Omit<RequestEntry, "start" | "end"> {
  const { start: _s, end: _e, ...rest } = e;
  return rest;
}

/** A decoded response entry with message and data copied out. */
export interface ResponseEntry {
  id: number;
  type: number;
  status: number;
  message: string;
  data: Uint8Array;
}

/** The response entries of the last decode of `input`. */
export function responseEntries(input: Uint8Array): ResponseEntry[] {
  const f = new ResponseFrames().load(codec.words);
  const out: ResponseEntry[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  while (f.next()) {
    out.push({
      id: f.id,
      type: f.type,
      status: f.status,
      message: decoder.decode(f.message(input)),
      data: f.data(input).slice(),
    });
  }
  return out;
}

/** What protobuf-es says a response entry must look like. */
export function expectedResponse(msg: NanoRPCResponse): ResponseEntry {
  return {
    id: msg.requestId,
    type: msg.responseType,
    status: msg.responseStatus,
    message: msg.responseMessage,
    data: msg.data,
  };
}
