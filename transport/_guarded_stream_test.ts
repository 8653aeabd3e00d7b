import assert from "node:assert/strict";
import type { ByteStream } from "./byte_stream.ts";
import { guardStream } from "./_guarded_stream.ts";
import { WRITE_SOME, type WritesSome, writesSome } from "./_write_some.ts";

/** A custom adapter that throws where it should reject. */
const throwing: ByteStream = {
  transport: "custom",
  remoteAddr: { transport: "custom", path: "/x" },
  read() {
    throw new Error("read threw");
  },
  write() {
    throw new Error("write threw");
  },
  close() {
    throw new Error("close threw");
  },
};

Deno.test("guardStream turns a synchronous throw of read or write into a rejection", async () => {
  const stream = guardStream(throwing);
  assert.equal(stream.transport, "custom");
  assert.deepEqual(stream.remoteAddr, throwing.remoteAddr);
  await assert.rejects(stream.read(new Uint8Array(4)), /read threw/);
  await assert.rejects(stream.write(new Uint8Array(4)), /write threw/);
});

Deno.test("guardStream close never throws and reports what close threw", () => {
  const heard: unknown[] = [];
  const stream = guardStream(throwing, (err) => heard.push(err));
  stream.close("bye");
  assert.match(String(heard[0]), /close threw/);
  guardStream(throwing, () => {
    throw new Error("the sink fails too");
  }).close();
});

Deno.test("guardStream wraps a stream once", () => {
  const once = guardStream(throwing);
  assert.equal(guardStream(once), once);
});

Deno.test("guardStream keeps the write-some fast path only of a stream that has it, and turns its throw into a rejection", async () => {
  const plain = guardStream({ ...throwing, close() {} });
  assert.equal(writesSome(plain), false);
  const fast = guardStream(
    Object.assign({ ...throwing, close() {} }, {
      [WRITE_SOME](): Promise<number> {
        throw new Error("writeSome threw");
      },
    }),
  );
  assert.ok(writesSome(fast));
  await assert.rejects(
    (fast as unknown as WritesSome)[WRITE_SOME](new Uint8Array([1])),
    /writeSome threw/,
  );
});
