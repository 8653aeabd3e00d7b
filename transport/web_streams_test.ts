import assert from "node:assert/strict";
import { webStreamPair } from "./web_streams.ts";

function spawn(command: string, ...args: string[]): Deno.ChildProcess {
  return new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

/** Reads exactly `length` bytes using reads of at most `step` bytes. */
async function readExactly(
  stream: { read(buffer: Uint8Array): Promise<number | null> },
  length: number,
  step: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (let at = 0; at < length;) {
    const n = await stream.read(out.subarray(at, Math.min(length, at + step)));
    if (n === null) throw new Error(`ended after ${at} of ${length} bytes`);
    at += n;
  }
  return out;
}

Deno.test("webStreamPair carries bytes through a cat child process and keeps leftovers", async () => {
  const child = spawn("cat");
  const stream = webStreamPair({
    readable: child.stdout,
    writable: child.stdin,
  });
  assert.deepEqual(stream.remoteAddr, { transport: "stream" });
  const sent = new Uint8Array(200_000).map((_, i) => i * 7);
  const reading = readExactly(stream, sent.length, 333);
  for (let at = 0; at < sent.length; at += 50_000) {
    await stream.write(sent.subarray(at, at + 50_000));
  }
  assert.deepEqual(await reading, sent);
  stream.close();
  assert.equal((await child.status).success, true);
});

Deno.test("webStreamPair read returns null once the peer ends its output", async () => {
  const child = spawn("head", "-c", "5");
  const stream = webStreamPair(
    { readable: child.stdout, writable: child.stdin },
    { remoteAddr: { transport: "stream", path: "head" } },
  );
  assert.equal(stream.transport, "stream");
  await stream.write(new TextEncoder().encode("hello world"));
  const buffer = new Uint8Array(16);
  const n = await stream.read(buffer);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n!)), "hello");
  assert.equal(await stream.read(buffer), null);
  assert.equal(await stream.read(buffer), null);
  stream.close();
  await child.status;
});

Deno.test("webStreamPair write pends while the peer reads nothing and fails when it dies", async () => {
  const child = spawn("sleep", "60");
  const stream = webStreamPair({
    readable: child.stdout,
    writable: child.stdin,
  });
  // 8 MiB cannot fit in a pipe: the write can only settle by failing.
  const writing = stream.write(new Uint8Array(8 << 20));
  const reading = stream.read(new Uint8Array(8));
  child.kill("SIGKILL");
  await assert.rejects(writing);
  assert.equal(await reading, null);
  stream.close();
  await child.status;
});

Deno.test("webStreamPair close ends a pending read and fails later writes", async () => {
  const child = spawn("cat");
  const stream = webStreamPair({
    readable: child.stdout,
    writable: child.stdin,
  });
  const reading = stream.read(new Uint8Array(8));
  stream.close();
  stream.close();
  assert.equal(await reading, null);
  await assert.rejects(stream.write(new Uint8Array([1])), /closed/);
  assert.equal((await child.status).success, true);
});

Deno.test("webStreamPair write hands over a copy, so the caller may reuse its buffer once it settles", async () => {
  // An identity transform queues written chunks until they are read.
  const pipe = new TransformStream<Uint8Array, Uint8Array>(
    {},
    undefined,
    { highWaterMark: 4 },
  );
  const stream = webStreamPair({
    readable: new ReadableStream(),
    writable: pipe.writable,
  });
  const buffer = new Uint8Array([1, 2, 3]);
  await stream.write(buffer);
  buffer.fill(9);
  await stream.write(buffer.subarray(0, 2));
  const reader = pipe.readable.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
  assert.deepEqual((await reader.read()).value, new Uint8Array([9, 9]));
  stream.close();
});
