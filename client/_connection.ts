/**
 * One live byte stream to the server: the read loop (one batch decode per
 * read) and the corked writer (every frame queued in one turn of the event
 * loop goes out in one `write`).
 *
 * Over a WebSocket the writer also keeps a window (client/_write_window.ts):
 * a WebSocket has no backpressure, so at most `maxMessageSize` bytes of
 * requests the server may not have read go out; the rest wait unwritten,
 * as while a write waits, so `maxUnsentBytes` bounds them and they move to
 * the next connection if this one drops.
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import { guardStream } from "../transport/_guarded_stream.ts";
import { codec } from "../wasm/codec.ts";
import { Call, frameBytes, type OutFrame } from "./_call.ts";
import { ResponseReader, type ResponseSink } from "./_reader.ts";
import { RequestType, ResponseType } from "../wasm/wire.ts";
import { WriteWindow } from "./_write_window.ts";
import { ConnectionLostError } from "./errors.ts";

/** Called once when the connection ends, with why. */
export type CloseSink = (connection: Connection, error: Error) => void;

/** A connected byte stream speaking NanoRPC frames. */
export class Connection {
  readonly #stream: ByteStream;
  readonly #reader: ResponseReader;
  readonly #onClose: CloseSink;
  #outbox: OutFrame[] = [];
  /** Bytes of the frames in #outbox (an estimate: data, path, fields). */
  #unsent = 0;
  readonly #maxUnsent: number;
  /** Requests that settled while still in #outbox, since the last prune. */
  #settledUnsent = 0;
  #flushScheduled = false;
  /** The write window over a WebSocket; none over other streams. */
  readonly #window: WriteWindow | undefined;
  #writing: Promise<void> | undefined;
  #reading: Promise<void>;
  #closed = false;
  /** `performance.now()` of the last bytes received. */
  lastReceived = performance.now();

  constructor(
    stream: ByteStream,
    maxMessageSize: number,
    onResponse: ResponseSink,
    onClose: CloseSink,
    maxUnsent = Infinity,
    maxRequestSize = maxMessageSize,
  ) {
    this.#maxUnsent = maxUnsent;
    // A custom stream may throw where a rejection belongs (close is never
    // waited for): guarded, it cannot end the process.
    this.#stream = guardStream(stream);
    this.#onClose = onClose;
    const ws = stream.transport === "ws" || stream.transport === "wss";
    // What the server takes (maxRequestSize, matched to its maxMessageSize)
    // bounds the window, not how large an answer this client takes.
    const window = ws ? new WriteWindow(maxRequestSize) : undefined;
    this.#window = window;
    const sink: ResponseSink = window
      ? (id, type, status, message, data) => {
        if (id === 0 && type === ResponseType.PONG) {
          return this.#probed(window);
        }
        if (type !== ResponseType.UPDATE && window.answered(id)) {
          this.#schedule();
        }
        onResponse(id, type, status, message, data);
      }
      : onResponse;
    this.#reader = new ResponseReader(maxMessageSize, sink);
    this.#reading = this.#readLoop();
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a frame; it is written with the rest of this turn's frames.
   * While a write waits (the server is not reading fast enough), or the
   * window of unanswered requests is full (WebSocket), returns
   * false, not queueing it, for a request that would take the unsent bytes
   * past their bound (see {@link unsentRefusal}); other frames
   * (subscribing, unsubscribing) are always queued. With no write waiting,
   * everything is queued: a burst of one turn, or the requests held while
   * disconnected, go out in the next write.
   */
  send(frame: OutFrame): boolean {
    const size = frameBytes(frame);
    if (
      frame instanceof Call &&
      (this.#writing !== undefined || this.#window?.held === true) &&
      this.#unsent + size > this.#maxUnsent && this.#outbox.length > 0
    ) {
      this.#prune();
      if (this.#unsent + size > this.#maxUnsent && this.#outbox.length > 0) {
        return false;
      }
    }
    this.#outbox.push(frame);
    this.#unsent += size;
    // A PING goes past a held window (a keepalive must not wait for it).
    this.#schedule(frame.type === RequestType.PING);
    return true;
  }

  /** Why {@link send} refused `call`, for its `NotConnectedError`. */
  unsentRefusal(call: Call): string {
    return `Request to ${call.label} not sent: ${this.#unsent} bytes of requests are waiting to be written because the server is not reading or answering them (maxUnsentBytes is ${this.#maxUnsent}); retry later or raise maxUnsentBytes`;
  }

  /** A request queued here settled before it was written. */
  unsentSettled(): void {
    this.#settledUnsent++;
  }

  /** Drops the requests that settled unwritten, if any did. */
  #prune(): void {
    if (this.#settledUnsent === 0) return;
    this.#settledUnsent = 0;
    this.#outbox = this.#outbox.filter((f) => !(f instanceof Call && f.done));
    this.#unsent = 0;
    for (const frame of this.#outbox) this.#unsent += frameBytes(frame);
  }

  #schedule(pastWindow = false): void {
    if (this.#flushScheduled || this.#writing) return;
    if (this.#window?.held && !pastWindow) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /** Frames queued but not handed to the socket, taken out of the queue. */
  takeUnsent(): OutFrame[] {
    const unsent = this.#outbox;
    this.#outbox = [];
    this.#unsent = this.#settledUnsent = 0;
    return unsent;
  }

  /**
   * Ends the connection with `error` (reported to the close sink) and waits
   * until its read and write loops have stopped.
   */
  async close(error: Error): Promise<void> {
    this.#end(error);
    await this.#reading;
    await this.#writing;
  }

  /**
   * Takes the frames to write now: all of them, or over a WebSocket those
   * that fit the window (in order), every PING, and a probe if one is due.
   * Undefined when none goes: an answer resumes writing.
   */
  #takeBatch(): OutFrame[] | undefined {
    const outbox = this.#outbox;
    const window = this.#window;
    const n = window ? window.fit(outbox) : outbox.length;
    if (n === outbox.length) {
      this.#outbox = [];
      this.#unsent = this.#settledUnsent = 0;
      return outbox;
    }
    // PINGs say nothing about order: they go now (a keepalive must not
    // wait behind requests), the rest waits.
    const batch = outbox.slice(0, n);
    const rest: OutFrame[] = [];
    for (const frame of outbox.slice(n)) {
      (frame.type === RequestType.PING ? batch : rest).push(frame);
    }
    const probe = window!.probe();
    if (probe) batch.push(probe);
    this.#outbox = rest;
    if (batch.length === 0) return undefined;
    this.#settledUnsent = 1; // Recounts what is left.
    this.#prune();
    return batch;
  }

  /**
   * The caller gave up on request `id` (timed out, aborted) after it was
   * written: its bytes leave the window.
   */
  gaveUp(id: number): void {
    this.#window?.gaveUp(id);
  }

  /** The probe's PONG came. */
  #probed(window: WriteWindow): void {
    const next = window.probed();
    if (next === "resume") this.#schedule();
    else if (next === "probe") this.#schedule(true);
  }

  #end(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.close();
    this.#onClose(this, error);
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed || this.#writing || this.#outbox.length === 0) return;
    this.#writing = this.#writeLoop().finally(() => {
      this.#writing = undefined;
      // A probe that came due while writing goes past the held window.
      const probe = this.#window?.probeDue === true;
      if (this.#outbox.length > 0 || probe) this.#schedule(probe);
    });
  }

  async #writeLoop(): Promise<void> {
    while (!this.#closed && this.#outbox.length > 0) {
      const batch = this.#takeBatch();
      if (!batch) return; // The window is full: an answer resumes writing.
      // Before encoding: an encoded call lets go of its data.
      this.#window?.written(batch);
      const bytes = encodeBatch(batch);
      if (!bytes) continue;
      try {
        await this.#stream.write(bytes);
      } catch (error) {
        this.#end(lost("Writing to the server failed", error));
        return;
      }
    }
  }

  async #readLoop(): Promise<void> {
    let error: Error;
    try {
      for (;;) {
        const n = await this.#stream.read(this.#reader.space());
        if (n === null) {
          error = new ConnectionLostError(
            "Server closed the connection; requests in flight were lost",
          );
          break;
        }
        this.lastReceived = performance.now();
        this.#reader.received(n);
        if (this.#closed) return;
      }
    } catch (cause) {
      if (this.#closed) return;
      error = cause instanceof ConnectionLostError
        ? cause
        : lost("Reading from the server failed", cause);
    }
    this.#end(error);
  }
}

function lost(what: string, cause: unknown): ConnectionLostError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ConnectionLostError(
    `${what} (${reason}); requests in flight were lost`,
    { cause },
  );
}

/**
 * Encodes a batch of frames into one buffer with one codec call. Calls that
 * already settled (timed out or aborted before they were written) are
 * skipped: they never reach the wire. The calls encoded let go of their
 * data. Returns undefined when nothing is left to write.
 */
export function encodeBatch(batch: OutFrame[]): Uint8Array | undefined {
  const fields: number[] = [];
  const paths: (Uint8Array | undefined)[] = [];
  const payloads: Uint8Array[] = [];
  for (const frame of batch) {
    if (frame instanceof Call && frame.done) continue;
    fields.push(frame.id, frame.type, frame.pathKind, frame.pathHash);
    paths.push(frame.path);
    payloads.push(frame.data);
  }
  if (payloads.length === 0) return undefined;
  const bytes = codec.encodeRequests(fields, paths, payloads, payloads.length);
  for (const frame of batch) {
    if (frame instanceof Call && !frame.done) frame.encoded();
  }
  return bytes;
}
