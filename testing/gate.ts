/**
 * Test kit: a gate a handler waits at until the test opens it, to hold
 * work in flight (a request during shutdown, a slow consumer) without a
 * sleep.
 *
 * @module
 */

/**
 * A one-shot gate: {@link opened} settles when {@link open} is called.
 *
 * @example
 * ```ts
 * import { Gate } from "./gate.ts";
 *
 * const gate = new Gate();
 * const work = gate.opened.then(() => "released");
 * gate.open();
 * await work;
 * ```
 */
export class Gate {
  readonly #opened = Promise.withResolvers<void>();
  #isOpen = false;

  /** Settles once the gate is open. */
  get opened(): Promise<void> {
    return this.#opened.promise;
  }

  /** Whether {@link open} was called. */
  get isOpen(): boolean {
    return this.#isOpen;
  }

  /** Opens the gate; opening it again does nothing. */
  open(): void {
    this.#isOpen = true;
    this.#opened.resolve();
  }
}
