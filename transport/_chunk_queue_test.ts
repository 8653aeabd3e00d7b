import assert from "node:assert/strict";
import { ChunkQueue } from "./_chunk_queue.ts";

Deno.test("ChunkQueue reads chunks across buffer boundaries in order and charges each chunk its cost until read", () => {
  const queue = new ChunkQueue(100);
  queue.push(new Uint8Array([1, 2, 3]));
  queue.push(new Uint8Array([4, 5]));
  assert.deepEqual([queue.bytes, queue.charged], [5, 205]);
  const out = new Uint8Array(4);
  assert.equal(queue.take(out), 4);
  assert.deepEqual(out, new Uint8Array([1, 2, 3, 4]));
  // The first chunk is read whole, the second is partly.
  assert.deepEqual([queue.bytes, queue.charged], [1, 101]);
  assert.equal(queue.take(out), 1);
  assert.equal(out[0], 5);
  assert.deepEqual([queue.bytes, queue.charged], [0, 0]);
  queue.push(new Uint8Array([6]));
  queue.clear();
  assert.equal(queue.take(out), 0);
});
