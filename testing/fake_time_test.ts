import assert from "node:assert/strict";
import { FakeTime } from "./fake_time.ts";
import { realNow } from "./_real_time.ts";

Deno.test("FakeTime runs due timers in due order, oldest first on ties", () => {
  using time = new FakeTime();
  const order: string[] = [];
  setTimeout(() => order.push("b"), 20);
  setTimeout(() => order.push("a"), 10);
  setTimeout(() => order.push("c"), 20);
  time.tick(9);
  assert.deepEqual(order, []);
  time.tick(1);
  assert.deepEqual(order, ["a"]);
  time.tick(10);
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.equal(time.pending, 0);
});

Deno.test("FakeTime tick runs timers armed by timers when they fall due in the span", () => {
  using time = new FakeTime();
  const at: number[] = [];
  setTimeout(() => {
    at.push(time.elapsed);
    setTimeout(() => at.push(time.elapsed), 5);
  }, 5);
  time.tick(10);
  assert.deepEqual(at, [5, 10]);
});

Deno.test("FakeTime moves Date.now and performance.now with the clock", () => {
  using time = new FakeTime({ start: new Date("2020-01-01T00:00:00Z") });
  const perf = performance.now();
  assert.equal(Date.now(), Date.UTC(2020, 0, 1));
  time.tick(1500);
  assert.equal(Date.now(), Date.UTC(2020, 0, 1) + 1500);
  assert.equal(performance.now(), perf + 1500);
  assert.equal(time.now, Date.now());
});

Deno.test("FakeTime clearTimeout cancels by handle or by number", () => {
  using time = new FakeTime();
  let fired = 0;
  const a = setTimeout(() => fired++, 5);
  const b = setTimeout(() => fired++, 5);
  clearTimeout(a);
  clearTimeout(Number(b));
  time.tick(10);
  assert.equal(fired, 0);
  assert.equal(time.pending, 0);
});

Deno.test("FakeTime setInterval repeats until cleared", () => {
  using time = new FakeTime();
  let n = 0;
  const id = setInterval(() => n++, 10);
  time.tick(35);
  assert.equal(n, 3);
  clearInterval(id);
  time.tick(100);
  assert.equal(n, 3);
});

Deno.test("FakeTime passes extra arguments and refreshes a timer", () => {
  using time = new FakeTime();
  const got: unknown[] = [];
  const timer = setTimeout(
    (a: number, b: string) => got.push(a, b),
    10,
    1,
    "x",
  );
  time.tick(8);
  timer.refresh();
  time.tick(8);
  assert.deepEqual(got, []);
  time.tick(2);
  assert.deepEqual(got, [1, "x"]);
});

Deno.test("FakeTime treats delays as the runtime does: below 1 or above 2^31-1 ms is 1 ms", () => {
  using time = new FakeTime();
  const fired: string[] = [];
  setTimeout(() => fired.push("zero"), 0);
  setTimeout(() => fired.push("huge"), 2 ** 31);
  setTimeout(() => fired.push("nan"), NaN);
  setTimeout(() => fired.push("max"), 2 ** 31 - 1);
  time.tick(0);
  assert.deepEqual(fired, []);
  time.tick(1);
  assert.deepEqual(fired, ["zero", "huge", "nan"]);
  time.tick(2 ** 31 - 3);
  assert.equal(fired.length, 3);
  time.tick(1);
  assert.deepEqual(fired.at(-1), "max");
});

Deno.test("FakeTime tickAsync lets promise chains run between timers", async () => {
  using time = new FakeTime();
  const log: string[] = [];
  setTimeout(async () => {
    await Promise.resolve();
    await Promise.resolve();
    log.push("first settled");
  }, 10);
  setTimeout(() => log.push("second"), 10);
  await time.tickAsync(10);
  assert.deepEqual(log, ["first settled", "second"]);

  log.length = 0;
  setTimeout(async () => {
    await Promise.resolve();
    log.push("third settled");
  }, 10);
  setTimeout(() => log.push("fourth"), 10);
  time.tick(10);
  assert.deepEqual(log, ["fourth"]);
  await Promise.resolve();
  assert.deepEqual(log, ["fourth", "third settled"]);
});

Deno.test("FakeTime runAll runs every timer and refuses an endless interval", async () => {
  using time = new FakeTime();
  let n = 0;
  setTimeout(() => setTimeout(() => n++, 1000), 1000);
  time.runAll();
  assert.equal(n, 1);
  assert.equal(time.elapsed, 2000);
  setTimeout(() => n++, 50);
  await time.runAllAsync();
  assert.equal(n, 2);
  setInterval(() => n++, 1);
  assert.throws(() => time.runAll(), /fires too often/);
});

Deno.test("FakeTime tick refuses to spin through a timer that re-arms every millisecond", async () => {
  using time = new FakeTime();
  let n = 0;
  setInterval(() => n++, 1);
  assert.throws(() => time.tick(2 ** 31), /FakeTime.tick ran 10000 timers/);
  assert.equal(n, 10_000);
  await assert.rejects(time.tickAsync(20_000), /fires too often/);
});

Deno.test("FakeTime AbortSignal.timeout aborts with a TimeoutError at the fake time", () => {
  using time = new FakeTime();
  const signal = AbortSignal.timeout(100);
  time.tick(99);
  assert.equal(signal.aborted, false);
  time.tick(1);
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as DOMException).name, "TimeoutError");
});

Deno.test("FakeTime Deno.unrefTimer and refTimer accept its timers", () => {
  using time = new FakeTime();
  const timer = setInterval(() => {}, 10);
  Deno.unrefTimer(timer as unknown as number);
  assert.equal(timer.hasRef(), false);
  Deno.refTimer(Number(timer));
  assert.equal(timer.hasRef(), true);
  clearInterval(timer);
  assert.equal(time.pending, 0);
});

Deno.test("FakeTime restores the runtime's timers and clocks on dispose", () => {
  const before = {
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    now: Date.now,
    timeout: AbortSignal.timeout,
    unref: Deno.unrefTimer,
    ref: Deno.refTimer,
  };
  {
    using time = new FakeTime();
    setTimeout(() => {
      throw new Error("a dropped fake timer must never run");
    }, 1);
    assert.notEqual(globalThis.setTimeout, before.setTimeout);
    assert.equal(Object.hasOwn(performance, "now"), true);
    assert.throws(() => new FakeTime(), /already installed/);
    assert.equal(time.pending, 1);
  }
  assert.deepEqual({
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    now: Date.now,
    timeout: AbortSignal.timeout,
    unref: Deno.unrefTimer,
    ref: Deno.refTimer,
  }, before);
  assert.equal(Object.hasOwn(performance, "now"), false);
  assert.ok(Math.abs(performance.now() - realNow()) < 1000);
  // A new one can be installed, and a stale handle cancels nothing of it.
  using again = new FakeTime();
  assert.equal(again.pending, 0);
});

Deno.test("FakeTime clears a real timer armed before it was installed", async () => {
  let fired = false;
  const real = setTimeout(() => fired = true, 1);
  {
    using _time = new FakeTime();
    clearTimeout(real);
  }
  // Real timers run in due order: once a later one ran, so had this one.
  await new Promise((r) => setTimeout(r, 2));
  assert.equal(fired, false);
});

Deno.test("FakeTime refuses to move backwards, by infinity or after restore", () => {
  const time = new FakeTime();
  assert.throws(() => time.tick(-1), RangeError);
  assert.throws(() => time.tick(Infinity), RangeError);
  time.restore();
  assert.throws(() => time.tick(1), /restored/);
});
