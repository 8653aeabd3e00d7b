import assert from "node:assert/strict";
import { MemoryStream } from "./memory_stream.ts";

Deno.test("MemoryStream reads what the peer sent, across short buffers, then null at the end", async () => {
  const stream = new MemoryStream();
  const buffer = new Uint8Array(2);
  const pending = stream.read(buffer);
  stream.send(new Uint8Array([1, 2, 3]));
  assert.equal(await pending, 2);
  assert.deepEqual(buffer, new Uint8Array([1, 2]));
  stream.end();
  assert.equal(await stream.read(buffer), 1);
  assert.equal(buffer[0], 3);
  assert.equal(await stream.read(buffer), null);
  assert.throws(() => stream.send(new Uint8Array([4])), /already ended/);
});

Deno.test("MemoryStream copies writes and holds them until released", async () => {
  const stream = new MemoryStream();
  const data = new Uint8Array([1]);
  await stream.write(data);
  data[0] = 9;
  stream.hold();
  let settled = 0;
  const a = stream.write(new Uint8Array([2])).then(() => settled++);
  const b = stream.write(new Uint8Array([3])).then(() => settled++);
  await Promise.resolve();
  assert.equal(stream.pendingWrites, 2);
  assert.equal(settled, 0);
  stream.release();
  await Promise.all([a, b]);
  assert.equal(stream.pendingWrites, 0);
  assert.deepEqual(stream.written, new Uint8Array([1, 2, 3]));
});

Deno.test("MemoryStream fails held and later writes after fail()", async () => {
  const stream = new MemoryStream();
  stream.hold();
  const held = stream.write(new Uint8Array([1]));
  stream.fail(new Error("broken pipe"));
  await assert.rejects(held, /broken pipe/);
  await assert.rejects(stream.write(new Uint8Array([2])), /broken pipe/);
  assert.equal(stream.writes.length, 1);
});

Deno.test("MemoryStream close ends a pending read, rejects held writes and keeps the reason", async () => {
  const stream = new MemoryStream();
  const reading = stream.read(new Uint8Array(4));
  stream.hold();
  const held = stream.write(new Uint8Array([1]));
  stream.close("done");
  stream.close("twice");
  await assert.rejects(reading, /closed/);
  await assert.rejects(held, /closed/);
  await assert.rejects(stream.write(new Uint8Array([2])), /closed/);
  assert.equal(stream.closed, true);
  assert.equal(stream.closeReason, "done");
});
