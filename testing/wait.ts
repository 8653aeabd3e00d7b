/**
 * Test kit: wait for a condition by polling it, or for a promise with a
 * deadline, never by sleeping a fixed time. Both keep real time while a
 * test fakes it with `FakeTime`, so a test can wait for real I/O then.
 *
 * @module
 */

import { realClearTimeout, realNow, realSetTimeout } from "./_real_time.ts";

/** How long and how often to wait. */
export interface WaitOptions {
  /** Milliseconds to wait at most; 5000 by default. */
  timeout?: number;
  /**
   * Milliseconds between two polls; by default they grow from 1 ms to
   * 20 ms, so a condition that holds soon is seen soon.
   */
  interval?: number;
  /** What is awaited, for the error message: "the server to close". */
  message?: string;
}

/**
 * Resolves once `condition()` holds, polling it. A condition that throws
 * ends the wait with its error.
 *
 * @param condition What to wait for; may return a promise.
 * @param options The time limit, the poll interval and what is awaited; a
 * number is the time limit.
 * @throws {Error} When the time limit passes first; the message names what
 * was awaited.
 *
 * @example
 * ```ts
 * import { waitFor } from "./wait.ts";
 *
 * let ready = false;
 * setTimeout(() => ready = true, 10);
 * await waitFor(() => ready, { timeout: 1000, message: "the timer" });
 * ```
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions | number = {},
): Promise<void> {
  const { timeout = 5000, interval, message = "the condition" } =
    typeof options === "number" ? { timeout: options } : options;
  const deadline = realNow() + timeout;
  let delay = interval ?? 1;
  while (!(await condition())) {
    if (realNow() > deadline) {
      throw new Error(`Timed out after ${timeout} ms waiting for ${message}`);
    }
    await new Promise((resolve) => realSetTimeout(resolve, delay));
    if (interval === undefined) delay = Math.min(delay * 2, 20);
  }
}

/** How long to wait for a promise, and what it stands for. */
export interface WithinOptions {
  /** Milliseconds to wait at most; 5000 by default. */
  timeout?: number;
  /** What the promise stands for, for the error message: "reconnection". */
  message?: string;
}

/**
 * `promise`, or a rejection once the time limit passes: an awaited event
 * that never comes fails the test instead of hanging it.
 *
 * @param promise What to wait for.
 * @param options The time limit and what the promise stands for.
 * @returns What `promise` resolves with.
 * @throws {Error} When the time limit passes first, or what `promise`
 * rejects with.
 *
 * @example
 * ```ts
 * import { within } from "./wait.ts";
 *
 * const value = await within(Promise.resolve(42), { message: "the answer" });
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  options: WithinOptions = {},
): Promise<T> {
  const { timeout = 5000, message = "settlement" } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`No ${message} within ${timeout} ms`)),
      timeout,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    realClearTimeout(timer);
  }
}

/**
 * The next event of `type` that `target` dispatches.
 *
 * @param target What dispatches the event, e.g. a `Client`.
 * @param type The event type, e.g. `"disconnect"`.
 * @param options The time limit; the message defaults to the type.
 * @returns The event.
 * @throws {Error} When no such event comes in time.
 *
 * @example
 * ```ts
 * import { nextEvent } from "./wait.ts";
 *
 * const target = new EventTarget();
 * const seen = nextEvent(target, "ready");
 * target.dispatchEvent(new Event("ready"));
 * await seen;
 * ```
 */
export function nextEvent<E extends Event = Event>(
  target: EventTarget,
  type: string,
  options: WithinOptions = {},
): Promise<E> {
  const { promise, resolve } = Promise.withResolvers<E>();
  const listener = (event: Event) => resolve(event as E);
  target.addEventListener(type, listener, { once: true });
  return within(promise, { message: `${type} event`, ...options }).finally(
    () => target.removeEventListener(type, listener),
  );
}
