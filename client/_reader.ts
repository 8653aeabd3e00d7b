/**
 * The read side of a client connection: a buffer that socket reads land in
 * directly, one batch decode through the WASM codec per read, and partial
 * frames carried over to the next read.
 *
 * @module
 */

import {
  codec,
  H_CONSUMED,
  H_ERROR,
  H_ERROR_AT,
  H_NEED,
  HEADER,
  MALFORMED_REASONS,
  MAX_FRAMES,
  RS_DATA_LEN,
  RS_DATA_OFF,
  RS_ID,
  RS_MSG_LEN,
  RS_MSG_OFF,
  RS_STATUS,
  RS_TYPE,
  STRIDE,
} from "../wasm/codec.ts";
import { ProtocolError } from "./errors.ts";

/** Receives one decoded response; `data` is a copy the receiver owns. */
export type ResponseSink = (
  id: number,
  type: number,
  status: number,
  message: string,
  data: Uint8Array,
) => void;

/** Size of the read buffer when nothing is carried over. */
export const INITIAL_BUFFER = 64 * 1024;
/** Least free space offered to a socket read. */
const MIN_READ = 4096;

const decoder = new TextDecoder();

/**
 * Splits a byte stream into response frames. The buffer grows only when it
 * is full of bytes that actually arrived, so a length prefix that claims a
 * large frame allocates nothing until the frame's bytes come in.
 */
export class ResponseReader {
  #buf = new Uint8Array(INITIAL_BUFFER);
  #start = 0;
  #end = 0;
  /** Bytes the partial frame at `#start` spans, when its prefix is known. */
  #need = 0;
  readonly #maxMessageSize: number;
  readonly #sink: ResponseSink;

  constructor(maxMessageSize: number, sink: ResponseSink) {
    this.#maxMessageSize = maxMessageSize;
    this.#sink = sink;
  }

  /** Bytes received but not yet decoded (a partial frame). */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Capacity of the buffer, for tests. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Free space to read into; call {@link received} with the bytes read. */
  space(): Uint8Array {
    if (this.#buf.length - this.#end < MIN_READ) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      if (this.#buf.length - this.#end < MIN_READ) {
        const grown = new Uint8Array(this.#buf.length * 2);
        grown.set(this.#buf.subarray(0, this.#end));
        this.#buf = grown;
      }
    }
    return this.#buf.subarray(this.#end);
  }

  /**
   * Takes `n` bytes just read into {@link space} and hands every complete
   * frame to the sink.
   *
   * @throws {ProtocolError} When a frame is malformed; the frames before it
   * have been delivered.
   */
  received(n: number): void {
    this.#end += n;
    if (this.#end - this.#start < this.#need) return;
    this.#need = 0;
    while (this.#start < this.#end) {
      const input = this.#buf.subarray(this.#start, this.#end);
      const count = codec.decodeResponses(input, this.#maxMessageSize);
      const words = codec.words;
      const consumed = words[H_CONSUMED];
      const error = words[H_ERROR];
      const errorAt = words[H_ERROR_AT];
      const need = words[H_NEED];
      // A copy, because a sink may run code that calls the codec again.
      const table = words.slice(HEADER, HEADER + count * STRIDE);
      this.#start += consumed;
      for (let e = 0; e < table.length; e += STRIDE) {
        this.#emit(input, table, e);
      }
      if (error !== 0) {
        throw new ProtocolError(
          `Malformed response from the server (${
            MALFORMED_REASONS[error] ?? `reason ${error}`
          } at byte ${errorAt} of the chunk); the connection was closed`,
        );
      }
      if (count < MAX_FRAMES) {
        this.#need = need;
        break;
      }
    }
    if (this.#start === this.#end) this.#reset();
  }

  #emit(input: Uint8Array, table: Int32Array, e: number): void {
    const msgLen = table[e + RS_MSG_LEN];
    const msgOff = table[e + RS_MSG_OFF];
    const dataLen = table[e + RS_DATA_LEN];
    const dataOff = table[e + RS_DATA_OFF];
    this.#sink(
      table[e + RS_ID],
      table[e + RS_TYPE],
      table[e + RS_STATUS],
      msgLen === 0
        ? ""
        : decoder.decode(input.subarray(msgOff, msgOff + msgLen)),
      dataLen === 0
        ? new Uint8Array(0)
        : input.slice(dataOff, dataOff + dataLen),
    );
  }

  /** Empties the buffer, giving back memory a large frame made it take. */
  #reset(): void {
    this.#start = this.#end = 0;
    if (this.#buf.length > INITIAL_BUFFER) {
      this.#buf = new Uint8Array(INITIAL_BUFFER);
    }
  }
}
