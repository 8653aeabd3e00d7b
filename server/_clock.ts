// The time a turn of the event loop started serving what it collected:
// `performance.now()` read once per turn and shared by every read served
// in it. Under load a turn serves the reads of many connections, and the
// clock (an op, ~0.1 µs) was the largest single cost of serving a read.

let cached = 0;
let valid = false;

/** Queued behind the turn's reads: the next turn reads the clock again. */
const expire = (): void => {
  valid = false;
};

/**
 * `performance.now()` when the first read of this turn of the event loop
 * was served. The reads a turn serves were all collected when it began,
 * so this is when they arrived, the moment request durations and idle
 * time count from. The reading expires in a microtask queued behind the
 * reads already waiting, so a later turn never sees it.
 *
 * @returns Milliseconds, as `performance.now()`.
 */
export function turnStarted(): number {
  if (valid) return cached;
  valid = true;
  queueMicrotask(expire);
  return cached = performance.now();
}
