// The requests a client holds while it has no open connection, at most
// `queueSize`: in the order they go out once it has one, each leaving as
// soon as it settles (timed out or aborted while waiting).

import type { Call } from "./_call.ts";
import { NotConnectedError } from "./errors.ts";

/** Requests waiting for a connection. */
export class Waiting {
  #calls = new Set<Call>();

  /** How many wait. */
  get size(): number {
    return this.#calls.size;
  }

  /** Adds `call` at the end. */
  add(call: Call): void {
    this.#calls.add(call);
    const leave = () => this.#calls.delete(call);
    call.promise.then(leave, leave);
  }

  /**
   * Adds `call` at the end, unless `max` calls wait already (`queueSize`):
   * then rejects it with a `NotConnectedError`.
   */
  admit(call: Call, max: number): void {
    if (this.#calls.size < max) return this.add(call);
    call.reject(
      new NotConnectedError(
        `Not connected and ${this.#calls.size} requests are already waiting; retry later or raise queueSize`,
      ),
    );
  }

  /** Adds `calls`, in order, before those waiting now. */
  addFirst(calls: readonly Call[]): void {
    const rest = this.take();
    for (const call of calls) this.add(call);
    for (const call of rest) this.#calls.add(call);
  }

  /** Takes every waiting call out, in order. */
  take(): Call[] {
    const calls = [...this.#calls];
    this.#calls.clear();
    return calls;
  }
}
