/**
 * The read side of a client connection: a buffer that socket reads land in
 * directly, one batch decode through the WASM codec per read, and partial
 * frames carried over to the next read.
 *
 * @module
 */

import {
  codec,
  MALFORMED_REASONS,
  MalformedReason,
  MAX_FRAMES,
} from "../wasm/codec.ts";
import { ResponseFrames } from "../wasm/frames.ts";
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

// A leading U+FEFF is text in a protobuf string, not a byte-order mark.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

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
  readonly #frames = new ResponseFrames();

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
      codec.decodeResponses(input, this.#maxMessageSize);
      const frames = this.#frames.load(codec.words);
      // A copy, because a sink may run code that calls the codec again.
      if (frames.count > 0) frames.detach();
      this.#start += frames.consumed;
      while (frames.next()) this.#emit(input, frames);
      if (frames.error !== 0) {
        const hint = frames.error === MalformedReason.FRAME_TOO_LARGE
          ? `; this client accepts frames up to maxMessageSize = ${this.#maxMessageSize} bytes: set it to the server's`
          : "";
        throw new ProtocolError(
          `Malformed response from the server (${
            MALFORMED_REASONS[frames.error] ?? `reason ${frames.error}`
          } at byte ${frames.errorAt} of the chunk); the connection was closed${hint}`,
          { reason: frames.error },
        );
      }
      if (frames.count < MAX_FRAMES) {
        this.#need = frames.need;
        break;
      }
    }
    if (this.#start === this.#end) this.#reset();
  }

  #emit(input: Uint8Array, frames: ResponseFrames): void {
    const msgLen = frames.messageLength;
    const dataLen = frames.dataLength;
    const dataOff = frames.dataOffset;
    this.#sink(
      frames.id,
      frames.type,
      frames.status,
      msgLen === 0 ? "" : decoder.decode(frames.message(input)),
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
