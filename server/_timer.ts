// Timers for the server's time limits. `setTimeout` fires at once (after
// a warning) for a delay of 2^31 ms or more, so a limit that long -- or
// Infinity, "wait as long as it takes" -- must mean no timer at all.

/** The longest delay `setTimeout` honours, in ms. */
export const MAX_TIMER = 2 ** 31 - 1;

/**
 * `setTimeout(run, ms)`, unref'd when `unref`; no timer (undefined) when
 * `ms` is MAX_TIMER or more, which then never fires.
 */
export function timerFor(
  run: () => void,
  ms: number,
  unref = false,
): ReturnType<typeof setTimeout> | undefined {
  if (!(ms < MAX_TIMER)) return undefined;
  const timer = setTimeout(run, ms);
  if (unref) Deno.unrefTimer(timer as unknown as number);
  return timer;
}
