import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

Deno.test("Backoff grows by factor from initial and stops at max", () => {
  const backoff = new Backoff({ initial: 10, max: 100, factor: 3, jitter: 0 });
  const delays = Array.from({ length: 5 }, () => backoff.next());
  assert.deepEqual(delays, [10, 30, 90, 100, 100]);
  assert.equal(backoff.attempt, 5);
});

Deno.test("Backoff jitter keeps delays within [d·(1−j), d]", () => {
  const low = new Backoff({ initial: 100, jitter: 0.5, random: () => 0.999 });
  const high = new Backoff({ initial: 100, jitter: 0.5, random: () => 0 });
  assert.ok(Math.abs(low.next() - 50.05) < 1e-9);
  assert.equal(high.next(), 100);
  const real = new Backoff({ initial: 100, max: 100 });
  for (let i = 0; i < 100; i++) {
    const d = real.next();
    assert.ok(d > 50 && d <= 100, `${d}`);
  }
});

Deno.test("Backoff reset starts over from initial", () => {
  const backoff = new Backoff({ initial: 5, jitter: 0 });
  backoff.next();
  backoff.next();
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 5);
});

Deno.test("Backoff does not overflow after many attempts", () => {
  const backoff = new Backoff({ initial: 1, max: 1000, jitter: 0 });
  for (let i = 0; i < 5000; i++) backoff.next();
  assert.equal(backoff.next(), 1000);
});

Deno.test("Backoff rejects options out of range", () => {
  assert.throws(() => new Backoff({ initial: 10, max: 5 }), RangeError);
  assert.throws(() => new Backoff({ factor: 0.5 }), RangeError);
  assert.throws(() => new Backoff({ jitter: 2 }), RangeError);
  assert.throws(() => new Backoff({ initial: -1 }), RangeError);
  assert.throws(() => new Backoff({ initial: 0 }), RangeError);
  assert.throws(() => new Backoff({ initial: NaN }), RangeError);
});

Deno.test("Backoff caps delays at 2^31-1 ms, the longest a timer holds", () => {
  const backoff = new Backoff({ initial: 3e9, max: 4e9, jitter: 0 });
  assert.equal(backoff.next(), 2 ** 31 - 1);
  const unbounded = new Backoff({ initial: 1, max: Infinity, jitter: 0 });
  for (let i = 0; i < 100; i++) unbounded.next();
  assert.equal(unbounded.next(), 2 ** 31 - 1);
});
