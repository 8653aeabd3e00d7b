/**
 * Timer delays the runtime can honour. `setTimeout` takes a signed 32-bit
 * delay: anything above 2^31-1 ms (about 24.8 days) fires at once, so every
 * delay the client sets goes through here.
 *
 * @module
 */

/** Longest delay `setTimeout` honours, in milliseconds. */
export const MAX_DELAY = 2 ** 31 - 1;

/** `ms`, capped at {@link MAX_DELAY}. */
export function clampDelay(ms: number): number {
  return Math.min(ms, MAX_DELAY);
}

/**
 * Runs `fn` once after a time limit of `ms`, where 0 and `Infinity` mean
 * "no limit" (nothing is scheduled) and limits above {@link MAX_DELAY} are
 * capped there.
 */
export function timeLimit(
  ms: number,
  fn: () => void,
): ReturnType<typeof setTimeout> | undefined {
  if (!(ms > 0 && ms < Infinity)) return undefined;
  return setTimeout(fn, clampDelay(ms));
}

/**
 * Throws a `RangeError` unless `ms` is a time limit: a number of
 * milliseconds >= 0, where 0 and `Infinity` mean none.
 */
export function checkTimeLimit(name: string, ms: number): void {
  if (typeof ms !== "number" || !(ms >= 0)) {
    throw new RangeError(
      `${name} must be a number of milliseconds >= 0 (0 or Infinity for none), got ${
        String(ms)
      }`,
    );
  }
}
