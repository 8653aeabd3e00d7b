/**
 * The bound on request ids a client holds only for an answer nobody waits
 * for any more (`maxAbandonedRequests`): calls that timed out or were
 * aborted after being written, and subscriptions that ended for their
 * caller (a subscribe that timed out or was aborted, an unsubscribe that
 * timed out) while the server still owes them an ack. Each keeps its id
 * reserved so that a late answer never reaches a newer request; past the
 * bound the server is taken for stuck, and the connection is dropped,
 * which frees them all.
 *
 * @module
 */

import { ConnectionLostError } from "./errors.ts";

/**
 * The abandoned request ids of one connection, counted and bounded.
 *
 * @example
 * ```ts
 * import { AbandonedIds } from "./_abandoned.ts";
 *
 * const abandoned = new AbandonedIds(1);
 * abandoned.add(); // A call timed out after it was written: 1 of 1.
 * const subscription = {};
 * const stuck = abandoned.add(subscription); // One too many.
 * if (stuck) console.log(stuck.message); // Drop the connection with it.
 * abandoned.clear(); // The connection ended.
 * ```
 */
export class AbandonedIds {
  readonly #max: number;
  /** Written calls that settled without their answer. */
  #calls = 0;
  /** Subscriptions over for their caller, still owed acks. */
  readonly #subscriptions = new Set<object>();

  constructor(max: number) {
    this.#max = max;
  }

  /** How many ids are held for a late answer. */
  get size(): number {
    return this.#calls + this.#subscriptions.size;
  }

  /**
   * Counts an abandoned call, or `subscription` (once however often).
   *
   * @returns The error to drop the connection with, once that makes more
   * than the bound; undefined while within it.
   */
  add(subscription?: object): ConnectionLostError | undefined {
    if (subscription) this.#subscriptions.add(subscription);
    else this.#calls++;
    if (this.size <= this.#max) return undefined;
    return new ConnectionLostError(
      `More than ${this.#max} requests or subscriptions timed out or were aborted without an answer (maxAbandonedRequests); dropped the connection to free their ids, requests in flight were lost`,
    );
  }

  /**
   * The late answer of an abandoned call came, or `subscription` let go of
   * its id (a subscription never counted changes nothing).
   */
  free(subscription?: object): void {
    if (subscription) this.#subscriptions.delete(subscription);
    else this.#calls--;
  }

  /** The connection ended: every id it held is free. */
  clear(): void {
    this.#calls = 0;
    this.#subscriptions.clear();
  }
}
