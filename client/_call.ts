/**
 * A request or ping waiting for its answer, and the frame it is sent as.
 *
 * @module
 */

import { PATH_NONE, PATH_STRING } from "../wasm/codec.ts";
import { RequestType, ResponseType } from "../wasm/wire.ts";
import { ClientError, TimeoutError } from "./errors.ts";
import { checkTimeLimit, timeLimit } from "./_timer.ts";

/** One request frame to write: the numbers `codec.encodeRequests` takes. */
export interface OutFrame {
  /** Request id, assigned when the frame is handed to a connection. */
  id: number;
  /** `RequestType`. */
  type: number;
  /** `PATH_NONE`, `PATH_HASH` or `PATH_STRING`. */
  pathKind: number;
  /** FNV-1a hash of the path (sent with `PATH_HASH`). */
  pathHash: number;
  /** UTF-8 path bytes (sent with `PATH_STRING`). */
  path: Uint8Array | undefined;
  /** Request data or subscribe filter. */
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * What a frame costs in a connection's unsent queue and write window: an
 * estimate of its bytes (data, path and fields).
 */
export function frameBytes(frame: OutFrame): number {
  return frame.data.length + (frame.path?.length ?? 0) + 32;
}

/**
 * The most a request frame's length prefix can say for this path and data:
 * request_id takes up to 11 bytes (a negative id is 10 bytes long),
 * request_type 2, a path hash 6, a path or data a tag, a length and the
 * bytes.
 */
export function maxFrameSize(
  frame: Pick<OutFrame, "pathKind" | "path">,
  dataLength: number,
): number {
  let size = 11 + 2;
  if (frame.pathKind === PATH_STRING) {
    size += 1 + 5 + (frame.path?.length ?? 0);
  } else if (frame.pathKind !== PATH_NONE) {
    size += 6;
  }
  if (dataLength > 0) size += 1 + 5 + dataLength;
  return size;
}

/**
 * The error a request is rejected with, unwritten, when its frame could be
 * over `max` bytes; undefined when it fits.
 */
export function frameTooLarge(
  frame: Pick<OutFrame, "pathKind" | "path">,
  dataLength: number,
  max: number,
  what: string,
): ClientError | undefined {
  const size = maxFrameSize(frame, dataLength);
  if (size <= max) return undefined;
  return new ClientError(
    `${what} would be a frame of up to ${size} bytes, over maxRequestSize (${max}); a server drops the connection on a frame over its maxMessageSize, so it was not sent. Send less data, or raise both limits`,
  );
}

/**
 * A pending request or ping. It settles once: by its answer, its timeout,
 * its abort signal or the loss of the connection.
 *
 * Once encoded for the socket (`written`) it lets go of its data; a call
 * that settles after that keeps its id reserved until the answer arrives or
 * the connection ends, so a late answer never reaches a newer request. A
 * call that settles before it is written is skipped by the writer.
 */
export class Call<T = unknown> implements OutFrame {
  id = 0;
  /** Encoded for the socket; only an unwritten call moves to a new connection. */
  written = false;
  done = false;
  /** `performance.now()` when the frame was queued for writing. */
  sentAt = 0;
  /** Runs once, after the call settled, whichever way. */
  onSettle: ((call: Call<T>) => void) | undefined;
  readonly type: number;
  readonly pathKind: number;
  readonly pathHash: number;
  readonly path: Uint8Array | undefined;
  /** Request data, until the call is encoded. */
  data: Uint8Array;
  /** For error messages: the path, or "ping". */
  readonly label: string;
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    frame: Omit<OutFrame, "id">,
    label: string,
  ) {
    this.type = frame.type;
    this.pathKind = frame.pathKind;
    this.pathHash = frame.pathHash;
    this.path = frame.path;
    this.data = frame.data;
    this.label = label;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** The response type that answers this call: PONG or RESPONSE. */
  get answerType(): number {
    return this.type === RequestType.PING
      ? ResponseType.PONG
      : ResponseType.RESPONSE;
  }

  /** The frame was encoded: its data is no longer needed. */
  encoded(): void {
    this.written = true;
    this.data = EMPTY;
  }

  /**
   * Fails the call after `ms` (none when 0 or Infinity; capped at 2^31-1)
   * with `error()`.
   */
  limit(ms: number, error: () => Error): void {
    this.#timer = timeLimit(ms, () => this.reject(error()));
  }

  /**
   * Readies the call to be sent: checks `timeout` and arms it, watches
   * `signal`, and checks the frame fits `maxRequestSize`. Returns false
   * when the call failed instead (it is rejected).
   */
  arm(
    timeout: number,
    signal: AbortSignal | undefined,
    maxRequestSize: number,
  ): boolean {
    try {
      checkTimeLimit("timeout", timeout);
    } catch (error) {
      this.reject(error);
      return false;
    }
    this.watch(signal);
    if (this.done) return false;
    const tooLarge = frameTooLarge(
      this,
      this.data.length,
      maxRequestSize,
      `Request to ${this.label}`,
    );
    if (tooLarge) {
      this.reject(tooLarge);
      return false;
    }
    this.limit(timeout, () =>
      new TimeoutError(
        `No answer to ${this.label} within ${timeout} ms; raise the timeout or check the server`,
      ));
    return true;
  }

  /** Fails the call with the signal's reason when it aborts. */
  watch(signal: AbortSignal | undefined): void {
    if (!signal) return;
    if (signal.aborted) return this.reject(signal.reason);
    this.#signal = signal;
    this.#onAbort = () => this.reject(signal.reason);
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  resolve(value: T): void {
    if (this.done) return;
    this.#settle();
    this.#resolve(value);
    this.onSettle?.(this);
  }

  reject(error: unknown): void {
    if (this.done) return;
    this.#settle();
    this.#reject(error);
    this.onSettle?.(this);
  }

  #settle(): void {
    this.done = true;
    // Never written now (the writer skips it): its data can go at once.
    if (!this.written) this.data = EMPTY;
    clearTimeout(this.#timer);
    if (this.#onAbort) {
      this.#signal?.removeEventListener("abort", this.#onAbort);
    }
  }
}

/** A PING call: no path, no data; resolves with the round trip in ms. */
export function pingCall(): Call<number> {
  return new Call<number>(
    {
      type: RequestType.PING,
      pathKind: PATH_NONE,
      pathHash: 0,
      path: undefined,
      data: EMPTY,
    },
    "ping",
  );
}
