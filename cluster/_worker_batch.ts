/**
 * What a {@link BroadcastChannelBroker} posts: every message one turn
 * published, as one buffer of `(channel, envelope)` entries, with the
 * sender's id and the sequence number of its first message so receivers
 * can count what the runtime dropped on the way.
 *
 * Entry: varint channel length, channel UTF-8, varint envelope length,
 * envelope.
 *
 * @module
 */

// deno-lint-ignore no-unused-vars
import type { BroadcastChannelBroker } from "./broadcast_channel_broker.ts";

/** The posted object (short keys: it is structured-cloned per post). */
export interface BatchPost {
  /** The sender's id. */
  o: string;
  /** Sequence number of the first message. */
  s: number;
  /** How many messages. */
  n: number;
  /** The entries. */
  b: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Entries being collected during one turn. */
export class Batch {
  #buf = new Uint8Array(1024);
  #length = 0;
  /** Entries collected. */
  count = 0;

  /** Whether an entry for `channel` and `envelope` stays within `max`. */
  fits(channel: string, envelope: Uint8Array, max: number): boolean {
    return this.#length + channel.length * 3 + envelope.length + 10 <= max;
  }

  /** Appends an entry. */
  add(channel: string, envelope: Uint8Array): void {
    this.#reserve(channel.length * 3 + envelope.length + 10);
    const start = this.#length + 5;
    const { written } = encoder.encodeInto(
      channel,
      this.#buf.subarray(start),
    );
    this.#length = this.#varint(this.#length, written);
    this.#buf.copyWithin(this.#length, start, start + written);
    this.#length = this.#varint(this.#length + written, envelope.length);
    this.#buf.set(envelope, this.#length);
    this.#length += envelope.length;
    this.count++;
  }

  /** The collected entries, copied; the batch starts over. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#length);
    this.#length = this.count = 0;
    if (this.#buf.length > 1 << 20) this.#buf = new Uint8Array(1024);
    return out;
  }

  #reserve(more: number): void {
    if (this.#length + more <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#length + more) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }

  /** Writes `value` (< 2^35) at `at`; returns the end. */
  #varint(at: number, value: number): number {
    while (value >= 0x80) {
      this.#buf[at++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.#buf[at++] = value;
    return at;
  }
}

/** A batch as received, checked for shape. */
export interface ReceivedBatch {
  /** The sender's id. */
  origin: string;
  /** Sequence number of the first message. */
  first: number;
  /** How many messages the sender put in. */
  count: number;
  /**
   * The entries, read lazily; throws `RangeError` where the framing
   * breaks.
   */
  entries(): Iterable<[string, Uint8Array]>;
}

/**
 * Checks a received post's shape.
 *
 * @returns The batch, or `undefined` when `post` is not one.
 */
export function readBatch(post: unknown): ReceivedBatch | undefined {
  if (typeof post !== "object" || post === null) return undefined;
  const { o, s, n, b } = post as Partial<BatchPost>;
  if (
    typeof o !== "string" || !Number.isSafeInteger(s) || s! < 0 ||
    !Number.isSafeInteger(n) || n! < 1 || !(b instanceof Uint8Array)
  ) return undefined;
  return { origin: o, first: s!, count: n!, entries: () => entries(b, n!) };
}

function* entries(b: Uint8Array, n: number): Iterable<[string, Uint8Array]> {
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= b.length) break;
      const byte = b[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new RangeError("broken batch: bad length");
  };
  const take = (length: number) => {
    if (length > b.length - at) throw new RangeError("broken batch: too short");
    return b.subarray(at, at += length);
  };
  for (let i = 0; i < n; i++) {
    const channel = decoder.decode(take(varint()));
    yield [channel, take(varint())];
  }
  if (at !== b.length) throw new RangeError("broken batch: trailing bytes");
}
