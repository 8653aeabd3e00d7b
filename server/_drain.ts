// Draining: closing a server's sessions spread over a window, each at a
// random moment of its own slot.

import type { ServerCore } from "./_core.ts";
import type { DrainOptions } from "./drain.ts";
import type { ServerSession } from "./_session.ts";
import { MAX_TIMER, timerFor } from "./_timer.ts";

/** How often, at least, the drain wakes up to close the sessions due. */
const TICK_MS = 10;

/**
 * The window of `options` in ms (10 s by default), checked before the
 * drain changes anything, and its settleTimeout with it.
 *
 * @throws {RangeError} When the window is not a finite number >= 0, or
 * settleTimeout not a number >= 0.
 */
export function drainWindow(options: DrainOptions): number {
  const window = options.window ?? 10_000;
  if (typeof window !== "number" || !(window >= 0) || window === Infinity) {
    throw new RangeError(
      `window must be a finite number of milliseconds >= 0, got ${
        String(window)
      }`,
    );
  }
  const settle = options.settleTimeout ?? 1000;
  if (typeof settle !== "number" || !(settle >= 0)) {
    throw new RangeError(
      `settleTimeout must be a number of milliseconds >= 0 (or Infinity), got ${
        String(settle)
      }`,
    );
  }
  return window;
}

/** Closes the sessions of `core` over the window; see {@link DrainOptions}. */
export async function drainOver(
  core: ServerCore,
  options: DrainOptions,
): Promise<void> {
  const window = drainWindow(options);
  const linger = options.stopAccepting === false;
  const settle = options.settleTimeout ?? 1000;
  const sessions = shuffle(
    [...core.sessions.values()].filter((s) => !s.closed && !s.linger),
  );
  const n = sessions.length;
  // Slot i is [i, i + 1) × window / n; its session closes at a random
  // moment of it.
  const due = sessions.map((_, i) => window * (i + Math.random()) / n);
  core.logger.info(`draining ${n} sessions over ${window} ms`);
  const start = performance.now();
  const closing: Promise<void>[] = [];
  for (let i = 0; i < n && !options.signal?.aborted;) {
    const elapsed = performance.now() - start;
    // A session that ended meanwhile (its peer left, the server shut
    // down) needs no turn: the drain does not wait for its slot.
    while (i < n && (due[i] <= elapsed || sessions[i].closed)) {
      closing.push(moveOff(core, sessions[i++], linger, settle));
    }
    if (i < n) {
      const next = due[i] - elapsed;
      // (a later wake-up for a far-off session: the loop checks again)
      const delay = Math.min(MAX_TIMER, Math.max(TICK_MS, Math.ceil(next)));
      await wake(delay, sessions[i].signal, options.signal);
    }
  }
  await Promise.all(closing);
}

/** Resolves after `ms`, or sooner when one of the signals aborts. */
function wake(
  ms: number,
  ...signals: (AbortSignal | undefined)[]
): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = new AbortController();
    const timer = setTimeout(() => done.abort(), ms);
    done.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
    for (const signal of signals) {
      signal?.addEventListener("abort", () => done.abort(), {
        signal: done.signal,
      });
    }
  });
}

/** Closes one session once its handlers are done (or after `settle` ms). */
async function moveOff(
  core: ServerCore,
  session: ServerSession,
  linger: boolean,
  settle: number,
): Promise<void> {
  if (session.closed || session.linger) return;
  if (session.busy) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      session.settled(),
      new Promise<void>((r) => timer = timerFor(r, settle)),
    ]);
    clearTimeout(timer);
  }
  if (session.closed || session.linger) return;
  core.stats.drainCloses++;
  const reason = "server is draining: reconnect";
  if (linger) await session.lost(reason, session.stream);
  else await session.close(reason);
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}
