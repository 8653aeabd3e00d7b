import assert from "node:assert/strict";
import { RequestIds } from "./_ids.ts";

Deno.test("RequestIds wraps from 2147483647 to -2147483648", () => {
  const ids = new RequestIds(2147483646);
  const free = () => false;
  assert.deepEqual([ids.next(free), ids.next(free), ids.next(free)], [
    2147483646,
    2147483647,
    -2147483648,
  ]);
});

Deno.test("RequestIds skips 0", () => {
  const ids = new RequestIds(-1);
  assert.deepEqual([ids.next(() => false), ids.next(() => false)], [-1, 1]);
});

Deno.test("RequestIds skips ids still held, across the wrap", () => {
  const held = new Set([2147483647, -2147483648, -2147483647, 1]);
  const ids = new RequestIds(2147483647);
  assert.equal(ids.next((id) => held.has(id)), -2147483646);
  const low = new RequestIds(-1);
  assert.equal(low.next((id) => held.has(id)), -1);
  assert.equal(low.next((id) => held.has(id)), 2);
});

Deno.test("RequestIds rejects a first id outside int32", () => {
  assert.throws(() => new RequestIds(2 ** 31), RangeError);
  assert.throws(() => new RequestIds(1.5), RangeError);
});
