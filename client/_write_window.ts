// The write window of a connection over a WebSocket: how many bytes of
// requests may be written that the server may not have read yet.
//
// A WebSocket has no backpressure on what it receives, so a server that
// reads slower than a burst arrives (its outgoing buffer is full of large
// answers, say) closes the socket with 1009 once its unread bytes pass
// twice its `maxMessageSize`, losing every request in flight; over TCP the
// same burst just waits in the socket. A server reads requests in order,
// so an answer to any request (or a PONG) shows everything written before
// it was read. A request given up on leaves the window with only its own
// bytes: what came before it may still be unread. When the window holds,
// one PING with id 0 goes out as a probe, so a slow handler does not hold
// later requests back; PINGs never wait for the window.

import { PATH_NONE } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { Call, frameBytes, type OutFrame } from "./_call.ts";

/** Where a written request ends in the count of bytes sent, and its size. */
interface Written {
  end: number;
  size: number;
}

/**
 * The window of one connection. The connection asks {@link fit} what to
 * write, tells {@link written} what it wrote, and resumes writing when
 * {@link answered}, {@link gaveUp} or {@link probed} return true.
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
  /** Each request written and not answered, by id. */
  #written = new Map<number, Written>();
  /** Requests given up on, not yet passed by {@link #readTo}, in order. */
  #givenUp: Written[] = [];
  /** Bytes of {@link #givenUp}. */
  #released = 0;
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
    let bytes = this.#outstanding();
    let n = 0;
    for (; n < outbox.length; n++) {
      const size = windowBytes(outbox[n]);
      if (size > 0 && bytes > 0 && bytes + size > this.limit) break;
      bytes += size;
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
    for (const frame of batch) {
      const size = windowBytes(frame);
      this.#sent += size;
      if (frame.id === 0) {
        if (frame.type === RequestType.PING) this.#probe = this.#sent;
      } else if (frame instanceof Call && !frame.done) {
        this.#written.set(frame.id, { end: this.#sent, size });
      }
    }
  }

  /**
   * The answer to request `id` came: what was written up to it was read.
   *
   * @returns Whether writing may resume.
   */
  answered(id: number): boolean {
    const entry = this.#written.get(id);
    if (entry === undefined) return false;
    this.#written.delete(id);
    return this.#readUpTo(entry.end);
  }

  /**
   * The caller gave up on request `id` (timed out, aborted): only its own
   * bytes leave the window.
   *
   * @returns Whether writing may resume.
   */
  gaveUp(id: number): boolean {
    const entry = this.#written.get(id);
    if (entry === undefined) return false;
    this.#written.delete(id);
    if (entry.end <= this.#readTo || entry.size === 0) return false;
    const list = this.#givenUp;
    let at = list.length;
    while (at > 0 && list[at - 1].end > entry.end) at--;
    list.splice(at, 0, entry);
    this.#released += entry.size;
    return this.#room();
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
    return this.#sent - this.#readTo - this.#released;
  }

  #readUpTo(end: number): boolean {
    if (end > this.#readTo) this.#readTo = end;
    // Given up on and now read anyway: counted once, in #readTo.
    const list = this.#givenUp;
    let passed = 0;
    while (passed < list.length && list[passed].end <= this.#readTo) {
      this.#released -= list[passed++].size;
    }
    if (passed > 0) list.splice(0, passed);
    return this.#room();
  }

  /** Whether a held window has room again (down to half). */
  #room(): boolean {
    if (!this.held || this.#outstanding() > this.limit / 2) return false;
    this.held = false;
    return true;
  }
}

/** What a frame costs in the window: a request's bytes; PINGs nothing. */
export function windowBytes(frame: OutFrame): number {
  return frame instanceof Call && !frame.done &&
      frame.type !== RequestType.PING
    ? frameBytes(frame)
    : 0;
}
