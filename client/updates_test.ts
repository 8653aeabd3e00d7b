// The update buffer between a subscription and its iterator.

import assert from "node:assert/strict";
import { UpdateQueue } from "./_updates.ts";

Deno.test("UpdateQueue with an unbounded capacity holds its backlog, not every update it ever buffered", async () => {
  const queue = new UpdateQueue<number>(Infinity);
  for (let i = 0; i < 10_000; i++) {
    queue.push(i);
    queue.push(-i);
    assert.equal((await queue.next()).value, i);
    assert.equal((await queue.next()).value, -i);
  }
  assert.ok(queue.slots <= 16, `${queue.slots} slots for a backlog of 2`);
  for (let i = 0; i < 1000; i++) queue.push(i);
  for (let i = 0; i < 1000; i++) assert.equal((await queue.next()).value, i);
  assert.equal(queue.dropped, 0);
});

Deno.test("UpdateQueue keeps the newest updates in order and counts the dropped ones, whatever its capacity", async () => {
  let seed = 1;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (const capacity of [1, 2, 3, 16, 17, 100, Infinity]) {
    const queue = new UpdateQueue<number>(capacity);
    const model: number[] = [];
    let dropped = 0;
    for (let n = 0; n < 5000;) {
      if (random() < 0.6) {
        queue.push(n);
        model.push(n++);
        if (model.length > capacity) {
          model.shift();
          dropped++;
        }
      } else if (model.length > 0) {
        assert.equal((await queue.next()).value, model.shift());
      }
    }
    assert.equal(queue.dropped, dropped);
    assert.ok(capacity === Infinity || queue.slots <= Math.max(capacity, 16));
    queue.close();
    for (const value of model) assert.equal((await queue.next()).value, value);
    assert.deepEqual(await queue.next(), { done: true, value: undefined });
  }
});
