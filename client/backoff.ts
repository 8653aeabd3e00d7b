/**
 * Exponential backoff with jitter, used between reconnection attempts.
 *
 * @module
 */

import { MAX_DELAY } from "./_timer.ts";

/** How the delay between attempts grows. */
export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds; > 0. @default {100} */
  initial?: number;
  /**
   * Upper bound of the delay, in milliseconds; at least `initial`. A timer
   * holds at most 2^31-1 ms, so longer delays are capped there.
   * @default {10000}
   */
  max?: number;
  /** Growth of the delay per attempt. @default {2} */
  factor?: number;
  /**
   * Share of the delay that is random, 0-1: with jitter `j` the delay of
   * attempt `n` is uniform in `[d·(1-j), d]` where
   * `d = min(max, initial·factor^n)`. Spreads clients that lost the same
   * server apart. @default {0.5}
   */
  jitter?: number;
  /** Source of randomness in [0, 1), for tests. @default {Math.random} */
  random?: () => number;
}

/**
 * Computes the delays of successive retries: exponential growth from
 * `initial` by `factor`, capped at `max`, with a random share `jitter`.
 *
 * @example
 * ```ts
 * import { Backoff } from "@nanorpc/nanorpc";
 *
 * const backoff = new Backoff({ initial: 100, max: 2000, jitter: 0 });
 * backoff.next(); // 100
 * backoff.next(); // 200
 * backoff.reset();
 * backoff.next(); // 100
 * ```
 */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  /**
   * Creates a backoff at attempt 0.
   *
   * @param options Growth, cap and jitter of the delays.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initial ?? 100;
    this.#max = options.max ?? 10_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0.5;
    this.#random = options.random ?? Math.random;
    if (
      typeof this.#initial !== "number" || !(this.#initial > 0) ||
      typeof this.#max !== "number" || !(this.#max >= this.#initial)
    ) {
      throw new RangeError(
        `Backoff needs 0 < initial <= max, got initial ${
          String(this.#initial)
        } and max ${String(this.#max)}; check the reconnect options`,
      );
    }
    if (!(this.#factor >= 1)) {
      throw new RangeError("Backoff factor must be at least 1");
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new RangeError("Backoff jitter must be between 0 and 1");
    }
  }

  /** Number of delays handed out since the last {@link reset}. */
  get attempt(): number {
    return this.#attempt;
  }

  /**
   * The delay before the next attempt, in milliseconds; advances the
   * attempt counter.
   *
   * @returns A delay in `[d·(1-jitter), d]`, `d` the capped exponential
   * (never above 2^31-1, the longest delay a timer holds).
   */
  next(): number {
    const exponent = Math.min(this.#attempt, 64);
    const ceiling = Math.min(
      this.#max,
      this.#initial * this.#factor ** exponent,
      MAX_DELAY,
    );
    this.#attempt++;
    return ceiling * (1 - this.#jitter * this.#random());
  }

  /** Starts over from `initial`, e.g. after a successful connection. */
  reset(): void {
    this.#attempt = 0;
  }
}
