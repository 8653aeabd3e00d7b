/**
 * A growable byte writer and a checked reader for the cluster's own
 * messages (forwarded calls, answers, node messages): unsigned LEB128
 * varints of at most 8 bytes (exact up to 2^53 - 1), zigzag for signed
 * 32-bit ids, length-prefixed UTF-8 strings and byte strings. The reader
 * never allocates what a length merely claims and rejects invalid UTF-8.
 *
 * @module
 */

const MAX_VARINT_BYTES = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A cluster message that cannot be decoded; it is dropped and counted. */
export class MalformedMessageError extends Error {
  /** @param message Why the message is malformed. */
  constructor(message: string) {
    super(`Malformed cluster message: ${message}`);
    this.name = "MalformedMessageError";
  }
}

/** Appends encoded fields to a buffer that grows as needed. */
export class Writer {
  bytes: Uint8Array;
  at = 0;
  #view: DataView;

  /** @param size Initial capacity in bytes. */
  constructor(size = 256) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `more` bytes. */
  ensure(more: number): void {
    if (this.at + more <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.at + more) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.at));
    this.bytes = next;
    this.#view = new DataView(next.buffer);
  }

  /** One byte. */
  byte(value: number): this {
    this.ensure(1);
    this.bytes[this.at++] = value;
    return this;
  }

  /**
   * A non-negative safe integer.
   *
   * @throws {RangeError} For anything else.
   */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot encode ${value} in a cluster message: use a non-negative safe integer`,
      );
    }
    this.ensure(MAX_VARINT_BYTES);
    while (value >= 0x80) {
      this.bytes[this.at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.at++] = value;
    return this;
  }

  /** A signed 32-bit integer, zigzag-encoded. */
  int32(value: number): this {
    return this.varint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** A 64-bit float. */
  float(value: number): this {
    this.ensure(8);
    this.#view.setFloat64(this.at, value, true);
    this.at += 8;
    return this;
  }

  /** A length-prefixed UTF-8 string. */
  string(value: string): this {
    if (typeof value !== "string") {
      throw new TypeError(`Cannot encode ${typeof value} as a string`);
    }
    // ASCII is the common case: one pass, no scratch.
    const n = value.length;
    let ascii = n < 0x4000;
    for (let i = 0; ascii && i < n; i++) ascii = value.charCodeAt(i) < 0x80;
    if (ascii) {
      this.varint(n);
      this.ensure(n);
      for (let i = 0; i < n; i++) this.bytes[this.at++] = value.charCodeAt(i);
      return this;
    }
    return this.blob(encoder.encode(value));
  }

  /** Length-prefixed bytes. */
  blob(value: Uint8Array): this {
    this.varint(value.length);
    return this.raw(value);
  }

  /** Bytes without a length (a message's last field). */
  raw(value: Uint8Array): this {
    this.ensure(value.length);
    this.bytes.set(value, this.at);
    this.at += value.length;
    return this;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.at);
  }
}

/** Reads fields back, checking every length against the message. */
export class Reader {
  at = 0;
  #view: DataView;

  /** @param bytes The message. */
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Bytes left. */
  get left(): number {
    return this.bytes.length - this.at;
  }

  /** One byte. */
  byte(what: string): number {
    if (this.at >= this.bytes.length) {
      throw new MalformedMessageError(`${what} is cut short`);
    }
    return this.bytes[this.at++];
  }

  /** A varint. */
  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte(what);
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) {
          throw new MalformedMessageError(`${what} is over 2^53 - 1`);
        }
        return value;
      }
      scale *= 0x80;
    }
    throw new MalformedMessageError(`${what} is longer than 8 bytes`);
  }

  /** A zigzag-encoded signed 32-bit integer. */
  int32(what: string): number {
    const z = this.varint(what);
    if (z > 0xffffffff) {
      throw new MalformedMessageError(`${what} is over 32 bits`);
    }
    return (z >>> 1) ^ -(z & 1);
  }

  /** A 64-bit float. */
  float(what: string): number {
    if (this.left < 8) throw new MalformedMessageError(`${what} is cut short`);
    const v = this.#view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  /** A length-prefixed view (not a copy). */
  blob(what: string): Uint8Array {
    const n = this.varint(`${what} length`);
    if (n > this.left) {
      throw new MalformedMessageError(`${what} runs past the end`);
    }
    return this.bytes.subarray(this.at, this.at += n);
  }

  /** A length-prefixed UTF-8 string. */
  string(what: string): string {
    const view = this.blob(what);
    try {
      return decoder.decode(view);
    } catch {
      throw new MalformedMessageError(`${what} is not valid UTF-8`);
    }
  }

  /** A count of items that take at least one byte each. */
  count(what: string): number {
    const n = this.varint(`${what} count`);
    if (n > this.left) {
      throw new MalformedMessageError(`${what} count exceeds the message`);
    }
    return n;
  }

  /** What is left, as a view. */
  rest(): Uint8Array {
    const view = this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return view;
  }
}
