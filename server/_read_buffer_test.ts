import assert from "node:assert/strict";
import { ReadBuffer } from "./_read_buffer.ts";

/** What a read of `n` bytes does: fill the free space with `byte`. */
function arrive(input: ReadBuffer, n: number, byte = 1): void {
  const space = input.space();
  assert.ok(space.length >= n, `room for ${n} bytes, ${space.length} free`);
  space.fill(byte, 0, n);
  input.filled += n;
}

Deno.test("ReadBuffer starts at 4 KiB and grows only when full, whatever a frame claims", () => {
  const input = new ReadBuffer(1024 * 1024 + 10);
  assert.equal(input.bytes.length, 4096);
  // A prefix claiming 1 MiB allocates nothing by itself.
  input.need = 1024 * 1024;
  assert.equal(input.space().length, 4096);
  arrive(input, 4095);
  assert.equal(input.space().length, 1);
  assert.equal(input.bytes.length, 4096);
  arrive(input, 1);
  // Full: the next read gets room, 64 KiB first, then doubling.
  assert.equal(input.space().length, 65536 - 4096);
  assert.equal(input.bytes.length, 65536);
  arrive(input, 65536 - 4096, 2);
  assert.equal(input.space().length, 65536);
  assert.equal(input.bytes.length, 131072);
  // The bytes that arrived came along.
  assert.equal(input.bytes[0], 1);
  assert.equal(input.bytes[4095], 1);
  assert.equal(input.bytes[4096], 2);
  assert.equal(input.bytes[65535], 2);
});

Deno.test("ReadBuffer never grows past the largest frame", () => {
  const max = 100_000;
  const input = new ReadBuffer(max);
  while (input.bytes.length < max) arrive(input, input.space().length);
  assert.equal(input.bytes.length, max);
  assert.equal(input.filled, max);
  // Full at the bound: no room, and no bigger buffer.
  assert.equal(input.space().length, 0);
  assert.equal(input.bytes.length, max);
});

Deno.test("ReadBuffer.consume keeps the partial frame at the start, in place", () => {
  const input = new ReadBuffer(1 << 20);
  const bytes = input.bytes;
  input.space().set([1, 2, 3, 4, 5]);
  input.filled = 5;
  input.consume(3);
  assert.equal(input.filled, 2);
  assert.equal(input.bytes, bytes, "no new buffer for a small rest");
  assert.deepEqual(input.bytes.subarray(0, 2), new Uint8Array([4, 5]));
  input.consume(2);
  assert.equal(input.filled, 0);
  assert.equal(input.bytes, bytes);
});

Deno.test("ReadBuffer.lend moves the rest to a new buffer on the next consume, once", () => {
  const input = new ReadBuffer(1 << 20);
  input.space().set([1, 2, 3, 4, 5]);
  input.filled = 5;
  const lent = input.bytes;
  // A handler past its time limit still holds a view of bytes 0..3.
  const view = lent.subarray(0, 3);
  input.lend();
  input.consume(3);
  assert.notEqual(input.bytes, lent);
  assert.deepEqual(input.bytes.subarray(0, 2), new Uint8Array([4, 5]));
  assert.equal(input.bytes.length, 4096);
  // Later reads do not write over what the handler reads.
  arrive(input, 10, 9);
  input.consume(12);
  assert.deepEqual(view, new Uint8Array([1, 2, 3]));
  // Lending ends with that consume: the next one reuses the buffer.
  const current = input.bytes;
  arrive(input, 4, 7);
  input.consume(2);
  assert.equal(input.bytes, current);
});

Deno.test("ReadBuffer gives a grown buffer back once a burst is consumed", () => {
  const input = new ReadBuffer(1 << 20);
  while (input.bytes.length <= 65536) arrive(input, input.space().length);
  assert.equal(input.bytes.length, 131072);
  input.consume(input.filled);
  assert.equal(input.filled, 0);
  assert.equal(input.bytes.length, 4096);
});

Deno.test("ReadBuffer.relax shrinks an emptied buffer after a small read only", () => {
  const grown = () => {
    const input = new ReadBuffer(1 << 20);
    arrive(input, 4096);
    arrive(input, 100);
    assert.equal(input.bytes.length, 65536);
    return input;
  };
  // Something left unconsumed: keep the buffer.
  let input = grown();
  input.consume(4000);
  input.relax(100);
  assert.equal(input.bytes.length, 65536);
  assert.equal(input.filled, 196);
  // A big read: the burst goes on, keep it.
  input = grown();
  input.consume(input.filled);
  input.relax(4096);
  assert.equal(input.bytes.length, 65536);
  // Emptied after a small read: back to 4 KiB.
  input.relax(100);
  assert.equal(input.bytes.length, 4096);
  // Already small: nothing to do.
  const small = input.bytes;
  input.relax(1);
  assert.equal(input.bytes, small);
});
