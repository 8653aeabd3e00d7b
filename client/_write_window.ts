// The write window of a connection over a WebSocket: how many bytes of
// requests may be written that the server may not have read yet.
//
// A WebSocket has no backpressure on what it receives, so a server that
// reads slower than a burst arrives (its outgoing buffer is full of large
// answers, say) closes the socket with 1009 once its unread bytes pass
// twice its `maxMessageSize`, losing every request in flight; over TCP the
// same burst just waits in the socket. A server reads requests in order,
// so an answer to any request or subscription (or a PONG) shows everything
// written before it was read. A request given up on stays in the window
// until then (the server may not have read it). When the window holds, one
// PING with id 0 goes out as a probe, so a slow handler does not hold later
// requests back; PINGs never wait for the window. Each write is a message
// the server charges MESSAGE_COST for besides its bytes, and so does this.

import { DEFAULT_MAX_SEND, MESSAGE_COST } from "../transport/websocket.ts";
import { PATH_NONE } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { Call, frameBytes, type OutFrame } from "./_call.ts";

/**
 * The window of one connection. The connection asks {@link fit} what to
 * write, tells {@link written} what it wrote, {@link answered} and
 * {@link gaveUp} what settled, and resumes writing when `answered` returns
 * true or {@link probed} says so.
 *
 * @example
 * ```ts ignore
 * const window = new WriteWindow(1 << 20);
 * const n = window.fit(outbox); // how many frames fit, in order
 * ```
 */
export class WriteWindow {
  /** Bytes of requests the server may not have read, at most. */
  readonly limit: number;
  /** The window is full: the outbox waits for answers, not for a write. */
  held = false;
  /** Window bytes of the requests written so far, in all. */
  #sent = 0;
  /** Up to where in {@link #sent} the server has read for sure. */
  #readTo = 0;
  /** Where each request written and not answered ends, by id. */
  #written = new Map<number, number>();
  /** Where the probe in flight ends in {@link #sent}, -1 before written. */
  #probe: number | undefined;

  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * How many frames from the start of `outbox` fit (one always does when
   * nothing is outstanding); sets {@link held} when not all do.
   */
  fit(outbox: readonly OutFrame[]): number {
    const outstanding = this.#outstanding();
    let bytes = outstanding + MESSAGE_COST;
    let took = outstanding > 0; // With nothing outstanding one always goes.
    let n = 0;
    for (; n < outbox.length; n++) {
      const size = windowBytes(outbox[n]);
      if (size === 0) continue;
      if (took && bytes + size > this.limit) break;
      bytes += size;
      took = true;
    }
    this.held = n < outbox.length;
    return n;
  }

  /** The probe to write with the next batch, if one is due. */
  probe(): OutFrame | undefined {
    if (this.#probe !== undefined) return undefined;
    this.#probe = -1; // Set where it ends once written.
    return {
      id: 0,
      type: RequestType.PING,
      pathKind: PATH_NONE,
      pathHash: 0,
      path: undefined,
      data: new Uint8Array(0),
    };
  }

  /** `batch` is about to be written (before encoding lets go of data). */
  written(batch: readonly OutFrame[]): void {
    let bytes = 0;
    for (const frame of batch) bytes += windowBytes(frame);
    // The messages the write is cut into, counted with its last frame.
    const messages = Math.max(1, Math.ceil(bytes / DEFAULT_MAX_SEND));
    for (let i = 0; i < batch.length; i++) {
      const frame = batch[i];
      this.#sent += windowBytes(frame);
      if (i === batch.length - 1) this.#sent += messages * MESSAGE_COST;
      if (frame.id === 0) {
        if (frame.type === RequestType.PING) this.#probe = this.#sent;
      } else if (!(frame instanceof Call && frame.done)) {
        this.#written.set(frame.id, this.#sent);
      }
    }
  }

  /** Whether a probe should go out now: held, and none in flight. */
  get probeDue(): boolean {
    return this.held && this.#probe === undefined;
  }

  /**
   * The answer to request `id` came: what was written up to it was read.
   *
   * @returns Whether writing may resume.
   */
  answered(id: number): boolean {
    const end = this.#written.get(id);
    if (end === undefined) return false;
    this.#written.delete(id);
    return this.#readUpTo(end);
  }

  /**
   * The caller gave up on request `id` (timed out, aborted): it is
   * forgotten, but its bytes stay in the window until something written
   * after it is answered (the server may not have read it; a probe finds
   * out).
   */
  gaveUp(id: number): void {
    this.#written.delete(id);
  }

  /**
   * The probe's PONG came: everything written before it was read.
   *
   * @returns `"resume"` when writing may resume, `"probe"` when it is still
   * held with requests written after the probe (an answer made room
   * meanwhile): a new probe is due, and its PONG comes once they are read.
   */
  probed(): "resume" | "probe" | undefined {
    const end = this.#probe;
    this.#probe = undefined;
    if (end !== undefined && end >= 0 && this.#readUpTo(end)) return "resume";
    return this.held ? "probe" : undefined;
  }

  /** Bytes written that the server may not have read. */
  #outstanding(): number {
    return this.#sent - this.#readTo;
  }

  #readUpTo(end: number): boolean {
    if (end > this.#readTo) this.#readTo = end;
    // An answer passed the probe: whatever becomes of its PONG (a peer
    // may answer it otherwise, or not at all), the next may go.
    if (this.#probe !== undefined && this.#probe >= 0 && this.#probe <= end) {
      this.#probe = undefined;
    }
    return this.#room();
  }

  /** Whether a held window has room again (down to half). */
  #room(): boolean {
    if (!this.held || this.#outstanding() > this.limit / 2) return false;
    this.held = false;
    return true;
  }
}

/**
 * What a frame costs in the window: its bytes, for requests, subscribes
 * and unsubscribes alike; PINGs and settled calls nothing.
 */
export function windowBytes(frame: OutFrame): number {
  if (frame.type === RequestType.PING) return 0;
  return frame instanceof Call && frame.done ? 0 : frameBytes(frame);
}
