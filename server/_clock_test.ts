import assert from "node:assert/strict";
import { FakeTime } from "../testing/mod.ts";
import { turnStarted } from "./_clock.ts";

Deno.test("turnStarted reads the clock once per turn: later calls in the turn share the reading, the next turn reads again", async () => {
  using time = new FakeTime();
  // A reading left from an earlier turn has expired by now.
  await Promise.resolve();
  const first = turnStarted();
  time.tick(5);
  assert.equal(turnStarted(), first, "a second read in the same turn");
  await Promise.resolve();
  assert.equal(turnStarted(), first + 5, "the next turn's reading");
});

Deno.test("turnStarted's reading expires behind the reads already queued in its turn", async () => {
  using time = new FakeTime();
  await Promise.resolve();
  const seen: number[] = [];
  // Three reads completed in one turn: their continuations are queued
  // before the first of them reads the clock.
  const reads = [1, 2, 3].map(() =>
    Promise.resolve().then(() => {
      seen.push(turnStarted());
      time.tick(1);
    })
  );
  await Promise.all(reads);
  assert.deepEqual(seen, [seen[0], seen[0], seen[0]]);
  await Promise.resolve();
  assert.equal(turnStarted(), seen[0] + 3);
});
