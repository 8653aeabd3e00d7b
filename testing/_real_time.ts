/**
 * The runtime's own clock and timers, taken when the test kit is first
 * imported, before any {@link FakeTime} can replace the globals. The kit's
 * waiting helpers use these, so they keep working while a test fakes time.
 *
 * @module
 */

/** The runtime's `setTimeout`. */
export const realSetTimeout: typeof setTimeout = globalThis.setTimeout;
/** The runtime's `clearTimeout`. */
export const realClearTimeout: typeof clearTimeout = globalThis.clearTimeout;
/** The runtime's `setInterval`. */
export const realSetInterval: typeof setInterval = globalThis.setInterval;
/** The runtime's `clearInterval`. */
export const realClearInterval: typeof clearInterval = globalThis.clearInterval;
/** The runtime's `Date.now`. */
export const realDateNow: () => number = Date.now;
/** The runtime's `AbortSignal.timeout`. */
export const realAbortSignalTimeout: (ms: number) => AbortSignal =
  AbortSignal.timeout;
/** The runtime's `Deno.unrefTimer`. */
export const realUnrefTimer: (id: number) => void = Deno.unrefTimer;
/** The runtime's `Deno.refTimer`. */
export const realRefTimer: (id: number) => void = Deno.refTimer;

const performanceNow = Performance.prototype.now;

/** The runtime's monotonic clock, in milliseconds. */
export function realNow(): number {
  return performanceNow.call(performance);
}

const setImmediate = (globalThis as unknown as {
  setImmediate(fn: () => void): unknown;
}).setImmediate;

/**
 * Resolves in the next turn of the event loop, once every pending promise
 * callback has run; unlike `setTimeout(fn, 0)` it waits for no clock.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => resolve()));
}
