/**
 * Test kit: wait for a condition by polling it, never by sleeping a fixed
 * time.
 *
 * @module
 */

/**
 * Resolves once `done()` holds, polling it with delays that grow from 1 ms
 * to 20 ms.
 *
 * @param done The condition.
 * @param ms Milliseconds to wait at most; 5000 by default.
 * @param what What is awaited, for the error message.
 * @throws {Error} When `ms` pass first.
 *
 * @example
 * ```ts
 * import { pollUntil } from "./_poll.ts";
 *
 * let ready = false;
 * setTimeout(() => ready = true, 10);
 * await pollUntil(() => ready, 1000, "the timer");
 * ```
 */
export async function pollUntil(
  done: () => boolean,
  ms = 5000,
  what = "the condition",
): Promise<void> {
  const deadline = performance.now() + ms;
  for (let delay = 1; !done(); delay = Math.min(delay * 2, 20)) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
