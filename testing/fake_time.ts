/**
 * Test kit: fake timers. A test that depends on timing (a timeout, a
 * backoff, a keepalive) installs a {@link FakeTime}, lets the code under
 * test arm its timers, and moves the clock by hand: no sleeps, no
 * wall-clock margins. Real sockets still do real I/O meanwhile; only
 * timers and clocks are fake.
 *
 * @module
 */

import {
  nextTurn,
  realNow,
  realRefTimer,
  realUnrefTimer,
} from "./_real_time.ts";

/** Longest delay a runtime timer honours; longer ones fire after 1 ms. */
const MAX_DELAY = 2 ** 31 - 1;
/**
 * Fake timer ids: far above the runtime's own, and never reused by a later
 * `FakeTime`, so a stale handle cannot cancel another test's timer.
 */
const FIRST_ID = 1_000_000_000;
let nextId = FIRST_ID;
/**
 * How many timers one `tick` or `runAll` runs before it decides they never
 * end: a timer re-arming itself every millisecond over a long tick is a
 * bug to report, not a loop to spin in.
 */
const RUN_LIMIT = 10_000;

/** Options of a {@link FakeTime}. */
export interface FakeTimeOptions {
  /**
   * What `Date.now()` returns at first, as milliseconds since the epoch or
   * a `Date`; the real time by default. `performance.now()` starts at the
   * next whole millisecond of the real one, so it never goes back.
   */
  start?: number | Date;
}

interface Timer {
  readonly id: number;
  readonly handle: FakeTimeout;
  due: number;
  seq: number;
  delay: number;
  repeat: boolean;
  ref: boolean;
  readonly run: () => void;
}

/** What a timer handle may do to its timer. */
interface TimerOps {
  setRef(id: number, ref: boolean): void;
  hasRef(id: number): boolean;
  refresh(id: number): void;
  clear(id: number): void;
}

let installed: FakeTime | undefined;

/**
 * The handle a faked `setTimeout` or `setInterval` returns: the same
 * methods as the runtime's `Timeout`, and its id when converted to a
 * number, so `clearTimeout`, `Deno.unrefTimer` and `Deno.refTimer` take
 * it either way.
 */
class FakeTimeout {
  readonly #time: TimerOps;
  readonly #id: number;
  constructor(time: TimerOps, id: number) {
    this.#time = time;
    this.#id = id;
  }
  ref(): this {
    this.#time.setRef(this.#id, true);
    return this;
  }
  unref(): this {
    this.#time.setRef(this.#id, false);
    return this;
  }
  hasRef(): boolean {
    return this.#time.hasRef(this.#id);
  }
  refresh(): this {
    this.#time.refresh(this.#id);
    return this;
  }
  close(): this {
    this.#time.clear(this.#id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.#id;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Replaces the global timers and clocks with fake ones until disposed:
 * `setTimeout`, `clearTimeout`, `setInterval`, `clearInterval`,
 * `Date.now`, `performance.now` and `AbortSignal.timeout`; `Deno.unrefTimer`
 * and `Deno.refTimer` accept its timers. Time stands still until the test
 * moves it with {@link FakeTime.tick} or {@link FakeTime.tickAsync}, which
 * run the timers that fall due, in order. Delays behave as the runtime's:
 * a delay below 1 ms or above 2^31−1 ms (or not a number) becomes 1 ms.
 *
 * Only one can be installed at a time. The test kit's own waiting helpers
 * keep real time, so a test can wait for real I/O while time is fake.
 * Watch a promise that a tick will reject (`assert.rejects(p)`, or a
 * `catch`) before ticking, or its rejection goes unhandled; and check
 * state right after a tick rather than awaiting a promise that only a
 * later tick could settle, which would wait forever.
 *
 * @example Move the clock past a timeout
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeTime } from "./fake_time.ts";
 *
 * using time = new FakeTime();
 * let fired = false;
 * setTimeout(() => fired = true, 1000);
 * time.tick(999);
 * assert.equal(fired, false);
 * time.tick(1);
 * assert.equal(fired, true);
 * ```
 */
export class FakeTime implements Disposable {
  /** Milliseconds the fake clocks have moved since installation. */
  #elapsed = 0;
  readonly #dateStart: number;
  readonly #perfStart: number;
  readonly #timers = new Map<number, Timer>();
  #seq = 0;
  readonly #restore: (() => void)[] = [];

  /**
   * Installs the fake timers and clocks.
   *
   * @param options Where `Date.now()` starts.
   * @throws {Error} When another `FakeTime` is installed: dispose it first.
   */
  constructor(options: FakeTimeOptions = {}) {
    if (installed) {
      throw new Error(
        "A FakeTime is already installed; dispose it (`using time = new FakeTime()`) before making another",
      );
    }
    const start = options.start ?? Date.now();
    this.#dateStart = start instanceof Date ? start.getTime() : start;
    // A whole number, so differences of fake readings are exact.
    this.#perfStart = Math.ceil(realNow());
    this.#install();
    installed = this;
  }

  /** What the fake `Date.now()` returns. */
  get now(): number {
    return this.#dateStart + this.#elapsed;
  }

  /** Milliseconds the clock has moved since this `FakeTime` was made. */
  get elapsed(): number {
    return this.#elapsed;
  }

  /** Timers armed and not yet run (intervals count until cleared). */
  get pending(): number {
    return this.#timers.size;
  }

  /** Milliseconds until the next timer is due, or `undefined` if none. */
  get nextDelay(): number | undefined {
    const next = this.#earliest(Infinity);
    return next && next.due - this.#elapsed;
  }

  /**
   * Moves the clocks `ms` forward, running every timer that falls due on
   * the way in due order (timers armed meanwhile included). Promise
   * callbacks do not run in between: use {@link tickAsync} when a timer's
   * effect goes through a promise.
   *
   * @param ms Milliseconds to move, ≥ 0; 0 runs nothing new.
   * @throws {Error} Whatever a timer callback throws (the clock stays at
   * that timer's due time), or when more than 10,000 timers fall due.
   */
  tick(ms = 0): void {
    const target = this.#target(ms);
    for (let n = 0, timer; (timer = this.#earliest(target)); n++) {
      this.#checkLimit(n, "tick");
      this.#fire(timer);
    }
    this.#elapsed = target;
  }

  /**
   * Like {@link tick}, but lets every pending promise callback run (one
   * turn of the event loop) before each timer and at the end, so chains of
   * `await` that a timer starts have gone as far as they can without I/O.
   *
   * @param ms Milliseconds to move, ≥ 0.
   * @throws {Error} Whatever a timer callback throws, or when more than
   * 10,000 timers fall due.
   */
  async tickAsync(ms = 0): Promise<void> {
    const target = this.#target(ms);
    await settle();
    for (let n = 0, timer; (timer = this.#earliest(target)); n++) {
      this.#checkLimit(n, "tickAsync");
      this.#fire(timer);
      await settle();
    }
    this.#elapsed = target;
    await settle();
  }

  /**
   * Runs timers in due order, moving the clock to each, until none is left.
   *
   * @throws {Error} When timers keep re-arming (an interval, say) past
   * 10,000 runs: move the clock with {@link tick} instead.
   */
  runAll(): void {
    for (let n = 0; this.#timers.size > 0; n++) {
      this.#checkLimit(n, "runAll");
      this.#fire(this.#earliest(Infinity)!);
    }
  }

  /** {@link runAll}, settling promise callbacks before and after each timer. */
  async runAllAsync(): Promise<void> {
    await settle();
    for (let n = 0; this.#timers.size > 0; n++) {
      this.#checkLimit(n, "runAllAsync");
      this.#fire(this.#earliest(Infinity)!);
      await settle();
    }
  }

  /** Puts the runtime's timers and clocks back; pending fake timers are dropped. */
  restore(): void {
    if (installed !== this) return;
    for (const undo of this.#restore.splice(0).reverse()) undo();
    this.#timers.clear();
    installed = undefined;
  }

  /** Same as {@link restore}. */
  [Symbol.dispose](): void {
    this.restore();
  }

  readonly #ops: TimerOps = {
    setRef: (id, ref) => {
      const timer = this.#timers.get(id);
      if (timer) timer.ref = ref;
    },
    hasRef: (id) => this.#timers.get(id)?.ref ?? false,
    refresh: (id) => {
      const timer = this.#timers.get(id);
      if (!timer) return;
      timer.due = this.#elapsed + timer.delay;
      timer.seq = this.#seq++;
    },
    clear: (id) => {
      this.#timers.delete(id);
    },
  };

  #target(ms: number): number {
    if (installed !== this) {
      throw new Error("This FakeTime was restored; make a new one");
    }
    if (!(ms >= 0 && ms < Infinity)) {
      throw new RangeError(
        `FakeTime moves forward by a finite number of milliseconds >= 0, got ${ms}`,
      );
    }
    return this.#elapsed + ms;
  }

  #checkLimit(n: number, method: string): void {
    if (n >= RUN_LIMIT) {
      throw new Error(
        `FakeTime.${method} ran ${RUN_LIMIT} timers and more are due; a timer that re-arms itself (an interval?) fires too often: check its delay, or move the clock in smaller steps`,
      );
    }
  }

  /** The earliest timer due at or before `limit`, oldest first on ties. */
  #earliest(limit: number): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.due > limit) continue;
      if (
        !best || timer.due < best.due ||
        (timer.due === best.due && timer.seq < best.seq)
      ) best = timer;
    }
    return best;
  }

  #fire(timer: Timer): void {
    this.#elapsed = Math.max(this.#elapsed, timer.due);
    if (timer.repeat) {
      timer.due = this.#elapsed + timer.delay;
      timer.seq = this.#seq++;
    } else {
      this.#timers.delete(timer.id);
    }
    timer.run();
  }

  #arm(run: () => void, delay: number, repeat: boolean): FakeTimeout {
    const id = nextId++;
    const handle = new FakeTimeout(this.#ops, id);
    this.#timers.set(id, {
      id,
      handle,
      due: this.#elapsed + delay,
      seq: this.#seq++,
      delay,
      repeat,
      ref: true,
      run,
    });
    return handle;
  }

  #schedule(
    callback: unknown,
    delay: unknown,
    args: unknown[],
    repeat: boolean,
  ): FakeTimeout {
    if (typeof callback !== "function") {
      throw new TypeError(
        "FakeTime takes a function as the timer callback, not a string of code",
      );
    }
    let ms = Number(delay);
    if (!(ms >= 1 && ms <= MAX_DELAY)) ms = 1;
    return this.#arm(() => callback(...args), ms, repeat);
  }

  /** The fake timer a handle or id names, if it is one of ours. */
  #own(handle: unknown): number | undefined {
    if (handle === null || handle === undefined) return undefined;
    const id = Number(handle);
    return id >= FIRST_ID && id < nextId ? id : undefined;
  }

  #install(): void {
    const clear = (handle: unknown, real: (h: never) => void) => {
      const id = this.#own(handle);
      if (id === undefined) real(handle as never);
      else this.#ops.clear(id);
    };
    const realClearTimeout = globalThis.clearTimeout;
    const realClearInterval = globalThis.clearInterval;
    this.#replace(
      globalThis,
      "setTimeout",
      (callback: unknown, delay?: unknown, ...args: unknown[]) =>
        this.#schedule(callback, delay, args, false),
    );
    this.#replace(
      globalThis,
      "setInterval",
      (callback: unknown, delay?: unknown, ...args: unknown[]) =>
        this.#schedule(callback, delay, args, true),
    );
    this.#replace(
      globalThis,
      "clearTimeout",
      (handle?: unknown) => clear(handle, realClearTimeout),
    );
    this.#replace(
      globalThis,
      "clearInterval",
      (handle?: unknown) => clear(handle, realClearInterval),
    );
    this.#replace(Date, "now", () => this.now);
    this.#replace(performance, "now", () => this.#perfStart + this.#elapsed);
    this.#replace(AbortSignal, "timeout", (ms: number) => {
      const controller = new AbortController();
      const reason = new DOMException("Signal timed out.", "TimeoutError");
      this.#arm(() => controller.abort(reason), Math.max(0, ms), false)
        .unref();
      return controller.signal;
    });
    this.#replace(Deno, "unrefTimer", (handle: number) => {
      const id = this.#own(handle);
      if (id === undefined) realUnrefTimer(handle);
      else this.#ops.setRef(id, false);
    });
    this.#replace(Deno, "refTimer", (handle: number) => {
      const id = this.#own(handle);
      if (id === undefined) realRefTimer(handle);
      else this.#ops.setRef(id, true);
    });
  }

  #replace(target: object, key: string, value: unknown): void {
    const own = Object.getOwnPropertyDescriptor(target, key);
    Object.defineProperty(target, key, {
      value,
      writable: true,
      configurable: true,
      enumerable: own?.enumerable ?? false,
    });
    this.#restore.push(() => {
      if (own) Object.defineProperty(target, key, own);
      else delete (target as Record<string, unknown>)[key];
    });
  }
}

/**
 * Lets pending promise callbacks run: one turn of the event loop, before
 * which the runtime drains the whole microtask queue.
 */
function settle(): Promise<void> {
  return nextTurn();
}
