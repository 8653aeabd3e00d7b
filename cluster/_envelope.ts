/**
 * The binary envelope a {@link BrokerMessage} travels in between processes
 * (NATS) and between workers (`BroadcastChannel`). Compact, self-checking,
 * and versioned:
 *
 * ```
 * byte 0   version (1)
 * byte 1   flags: 1 uids, 2 sessions, 4 origin, 8 kick, 16 except (other
 *          bits: malformed; older nodes read no 16)
 * varint   path length, then the path's UTF-8 bytes
 * [uids]     varint count, then per uid: varint length, UTF-8 bytes
 * [sessions] varint count, then per session id: varint
 * [origin]   varint length, UTF-8 bytes
 * [kick]     varint length, UTF-8 bytes
 * [except]   varint count of nodes, then per node: varint length, UTF-8
 *            bytes, varint count, then per session id: varint
 * rest     data (no length: it runs to the end)
 * ```
 *
 * Varints are unsigned LEB128 of at most 8 bytes and at most 2^53 - 1, so
 * every number is exact in JavaScript. Decoding never allocates what a
 * length merely claims and rejects invalid UTF-8.
 *
 * @module
 */

import type { BrokerMessage } from "../server/broker.ts";

/** The envelope version this module writes and reads. */
export const ENVELOPE_VERSION = 1;

const UIDS = 1;
const SESSIONS = 2;
const ORIGIN = 4;
const KICK = 8;
const EXCEPT = 16;
const KNOWN_FLAGS = UIDS | SESSIONS | ORIGIN | KICK | EXCEPT;
const MAX_VARINT_BYTES = 8;
/** A header scratch grown past this is let go after the encode. */
const MAX_KEPT_SCRATCH = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** An envelope that cannot be decoded; the message is dropped. */
export class MalformedEnvelopeError extends Error {
  /** @param message Why the envelope is malformed. */
  constructor(message: string) {
    super(`Malformed broker envelope: ${message}`);
    this.name = "MalformedEnvelopeError";
  }
}

/** A growable scratch buffer for the header; reused across encodes. */
let scratch = new Uint8Array(256);

function ensure(at: number, more: number): void {
  if (at + more <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < at + more) size *= 2;
  const next = new Uint8Array(size);
  next.set(scratch.subarray(0, at));
  scratch = next;
}

function putVarint(at: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot encode ${value} in a broker envelope: use a non-negative safe integer`,
    );
  }
  ensure(at, MAX_VARINT_BYTES);
  while (value >= 0x80) {
    scratch[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  scratch[at++] = value;
  return at;
}

function putString(at: number, value: string): number {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot encode ${typeof value} as a string`);
  }
  // Worst case: 3 UTF-8 bytes per UTF-16 unit, plus the length varint.
  ensure(at, value.length * 3 + MAX_VARINT_BYTES);
  // Encode first, after room for the longest length varint, then write the
  // length and close the gap. ensure() above made room for both, so
  // putVarint below never reallocates (which would lose the text).
  const start = at + varintSize(value.length * 3);
  const { written } = encoder.encodeInto(value, scratch.subarray(start));
  const lengthEnd = putVarint(at, written);
  if (lengthEnd !== start) {
    scratch.copyWithin(lengthEnd, start, start + written);
  }
  return lengthEnd + written;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/**
 * Encodes `message` into one new buffer: the header, then a copy of
 * `message.data`.
 *
 * @param message The message.
 * @returns The envelope.
 * @throws {RangeError} When a session id is not a non-negative safe integer.
 * @throws {TypeError} When a field has the wrong type.
 */
export function encodeEnvelope(message: BrokerMessage): Uint8Array {
  const { uids, sessions, origin, kick, except } = message;
  let flags = 0;
  if (uids !== undefined) flags |= UIDS;
  if (sessions !== undefined) flags |= SESSIONS;
  if (origin !== undefined) flags |= ORIGIN;
  if (kick !== undefined) flags |= KICK;
  if (except !== undefined) flags |= EXCEPT;
  ensure(0, 2);
  scratch[0] = ENVELOPE_VERSION;
  scratch[1] = flags;
  let at = putString(2, message.path);
  if (uids !== undefined) {
    at = putVarint(at, uids.length);
    for (const uid of uids) at = putString(at, uid);
  }
  if (sessions !== undefined) {
    at = putVarint(at, sessions.length);
    for (const id of sessions) at = putVarint(at, id);
  }
  if (origin !== undefined) at = putString(at, origin);
  if (kick !== undefined) at = putString(at, kick);
  if (except !== undefined) {
    at = putVarint(at, except.size);
    for (const [node, ids] of except) {
      at = putString(at, node);
      at = putVarint(at, ids.length);
      for (const id of ids) at = putVarint(at, id);
    }
  }
  if (!(message.data instanceof Uint8Array)) {
    throw new TypeError("Broker message data must be a Uint8Array");
  }
  const out = new Uint8Array(at + message.data.length);
  out.set(scratch.subarray(0, at));
  out.set(message.data, at);
  if (scratch.length > MAX_KEPT_SCRATCH) scratch = new Uint8Array(256);
  return out;
}

/** A cursor over an envelope being decoded. */
class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.at >= this.bytes.length) {
        throw new MalformedEnvelopeError(`${what} is cut short`);
      }
      const b = this.bytes[this.at++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) {
          throw new MalformedEnvelopeError(`${what} is over 2^53 - 1`);
        }
        return value;
      }
      scale *= 0x80;
    }
    throw new MalformedEnvelopeError(`${what} is longer than 8 bytes`);
  }

  string(what: string): string {
    const length = this.varint(`${what} length`);
    if (length > this.bytes.length - this.at) {
      throw new MalformedEnvelopeError(`${what} runs past the end`);
    }
    const view = this.bytes.subarray(this.at, this.at += length);
    try {
      return decoder.decode(view);
    } catch {
      throw new MalformedEnvelopeError(`${what} is not valid UTF-8`);
    }
  }

  /** A count of items that take at least one byte each. */
  count(what: string): number {
    const n = this.varint(`${what} count`);
    if (n > this.bytes.length - this.at) {
      throw new MalformedEnvelopeError(`${what} count exceeds the envelope`);
    }
    return n;
  }
}

/**
 * Decodes an envelope. `data` of the result is a view into `bytes`, not a
 * copy: keep `bytes` unmodified while the message is in use.
 *
 * @param bytes The envelope.
 * @returns The message.
 * @throws {MalformedEnvelopeError} When `bytes` is not a valid envelope.
 */
export function decodeEnvelope(bytes: Uint8Array): BrokerMessage {
  if (bytes.length < 2) {
    throw new MalformedEnvelopeError(`${bytes.length} bytes is too short`);
  }
  if (bytes[0] !== ENVELOPE_VERSION) {
    throw new MalformedEnvelopeError(
      `version ${
        bytes[0]
      } is unknown (this node reads ${ENVELOPE_VERSION}); run one nanorpc version across the cluster`,
    );
  }
  const flags = bytes[1];
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new MalformedEnvelopeError(`unknown flags 0x${flags.toString(16)}`);
  }
  const r = new Reader(bytes);
  r.at = 2;
  const path = r.string("path");
  const message: {
    path: string;
    data: Uint8Array;
    uids?: string[];
    sessions?: number[];
    origin?: string;
    kick?: string;
    except?: Map<string, number[]>;
  } = { path, data: bytes };
  if (flags & UIDS) {
    const n = r.count("uid");
    const uids: string[] = [];
    for (let i = 0; i < n; i++) uids.push(r.string("uid"));
    message.uids = uids;
  }
  if (flags & SESSIONS) {
    const n = r.count("session");
    const sessions: number[] = [];
    for (let i = 0; i < n; i++) sessions.push(r.varint("session id"));
    message.sessions = sessions;
  }
  if (flags & ORIGIN) message.origin = r.string("origin");
  if (flags & KICK) message.kick = r.string("kick reason");
  if (flags & EXCEPT) {
    const except = new Map<string, number[]>();
    for (let n = r.count("except node"); n > 0; n--) {
      const node = r.string("except node");
      const ids: number[] = [];
      for (let m = r.count("except session"); m > 0; m--) {
        ids.push(r.varint("except session id"));
      }
      except.set(node, ids);
    }
    message.except = except;
  }
  message.data = bytes.subarray(r.at);
  return message;
}
