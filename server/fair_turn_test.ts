// A read of tens of thousands of pipelined frames yields the event loop
// every TURN_FRAMES frames, so other sessions are not starved meanwhile.

import assert from "node:assert/strict";
import { REQUEST, requestFrame, startServer } from "../testing/mod.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import { fnv1a } from "../wasm/wire.ts";
import { TURN_FRAMES } from "./_connection.ts";

const TINY = 60_000;

function req(id: number, path: string, data: Uint8Array): Uint8Array {
  return requestFrame({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "pathHash", value: fnv1a(path) },
    data,
  });
}

/**
 * A peer that pipelines: one frame near maxMessageSize (it grows the read
 * buffer to 1 MiB), then TINY small frames that one read hands over whole.
 * Reads fill the buffer given; writes settle at once.
 */
function pipeliner(): ByteStream {
  const big = req(1, "/big", new Uint8Array(1024 * 1024 - 64));
  const tiny = req(2, "/count", new Uint8Array([1]));
  const bytes = new Uint8Array(big.length + TINY * tiny.length);
  bytes.set(big);
  for (let i = 0; i < TINY; i++) bytes.set(tiny, big.length + i * tiny.length);
  let at = 0;
  return {
    transport: "memory",
    remoteAddr: { transport: "memory" },
    read(buffer) {
      if (at === bytes.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write: () => Promise.resolve(),
    close() {},
  };
}

Deno.test("Server answers another session's request while it serves a read of 60,000 pipelined frames", async () => {
  let count = 0;
  let countWhenAnswered = -1;
  let sendOther = (): void => {};
  await using t = await startServer((server) => {
    server.handle("/big", () => {});
    server.handle("/count", () => {
      if (++count === 1) sendOther();
    });
    server.handle("/echo", (ctx) => {
      countWhenAnswered = count;
      return ctx.data;
    });
  });
  const other = await t.connectRaw();
  // The other session is open and its read waits before the flood starts.
  assert.equal(
    (await other.call({
      requestId: 7,
      requestType: REQUEST,
      pathOneof: { case: "pathHash", value: fnv1a("/echo") },
      data: new Uint8Array([7]),
    })).requestId,
    7,
  );
  // Sent from the first /count handler: it arrives while the read that
  // holds every /count frame is being served.
  sendOther = () => void other.write(req(8, "/echo", new Uint8Array([8])));
  const served = t.server.serve(pipeliner());
  assert.equal((await other.read()).requestId, 8);
  await served;
  assert.equal(count, TINY);
  // Answered within a few turns of TURN_FRAMES frames, not after them all.
  assert.ok(
    countWhenAnswered > 0 && countWhenAnswered < 50_000,
    `answered after ${countWhenAnswered} of the pipeliner's frames`,
  );
  assert.ok(TURN_FRAMES < 50_000);
});
