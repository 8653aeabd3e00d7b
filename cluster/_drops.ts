/**
 * Drop counters by reason, with a log line per reason at most every few
 * seconds: a flood of drops is counted exactly but logged sparingly.
 *
 * @module
 */

import type { Logger } from "../server/logger.ts";

/** What a {@link DropCounter} reports for one reason. */
export interface DropNotice<R extends string> {
  /** Why messages were dropped. */
  reason: R;
  /** Messages dropped for this reason since the broker was created. */
  dropped: number;
}

/** Counts drops by reason and reports them, rate-limited. */
export class DropCounter<R extends string> {
  #counts: Record<R, number>;
  #total = 0;
  #advice: Record<R, string | undefined>;
  #lastLog = new Map<R, number>();
  #unlogged = new Map<R, number>();
  #interval: number;
  #label: string;
  #logger: Logger;
  #notify: (notice: DropNotice<R>) => void;

  /**
   * @param label Who drops, for log lines, e.g. `"NatsBroker nanorpc"`.
   * @param advice Per reason, what to do about it; `undefined` to count
   * without logging (drops after close are expected).
   * @param logger Where warnings go.
   * @param notify Called with each logged notice, for event streams.
   * @param intervalMs Least time between two log lines of one reason.
   */
  constructor(
    label: string,
    advice: Record<R, string | undefined>,
    logger: Logger,
    notify: (notice: DropNotice<R>) => void = () => {},
    intervalMs = 10_000,
  ) {
    this.#label = label;
    this.#advice = advice;
    this.#logger = logger;
    this.#notify = notify;
    this.#interval = intervalMs;
    this.#counts = Object.fromEntries(
      Object.keys(advice).map((k) => [k, 0]),
    ) as Record<R, number>;
  }

  /** Drops so far, all reasons together. */
  get total(): number {
    return this.#total;
  }

  /** A copy of the counts by reason. */
  snapshot(): Record<R, number> {
    return { ...this.#counts };
  }

  /** Counts `n` messages dropped for `reason`. */
  count(reason: R, n = 1): void {
    if (n <= 0) return;
    this.#counts[reason] += n;
    this.#total += n;
    const advice = this.#advice[reason];
    if (advice === undefined) return;
    const now = performance.now();
    const unlogged = (this.#unlogged.get(reason) ?? 0) + n;
    const last = this.#lastLog.get(reason);
    if (last !== undefined && now - last < this.#interval) {
      this.#unlogged.set(reason, unlogged);
      return;
    }
    this.#lastLog.set(reason, now);
    this.#unlogged.set(reason, 0);
    this.#logger.warn(
      `${this.#label}: dropped ${unlogged} message(s) (${reason}; ${
        this.#counts[reason]
      } in all): ${advice}`,
    );
    this.#notify({ reason, dropped: this.#counts[reason] });
  }
}
