// raw_echo_node.ts as a process over real sockets: frames split across
// writes come back whole, a malformed prefix closes the connection, and
// bench:load measures it by name.

import assert from "node:assert/strict";
import type { LoadResult } from "./load.ts";
import { startTarget } from "./_harness.ts";
import { benchRows } from "./_test_utils.ts";

/** Starts the script as bench:load does; resolves once it listens. */
async function start() {
  const target = await startTarget({
    name: "raw-echo-node",
    script: "raw_echo_node.ts",
    args: [],
  });
  return {
    port: target.port,
    [Symbol.asyncDispose]: () => target.stop(),
  };
}

/** Reads until `n` bytes arrived, or the end. */
async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) break;
    got += read;
  }
  return out.subarray(0, got);
}

Deno.test("raw_echo_node.ts echoes whole frames, holding a partial one until its rest arrives", async () => {
  await using server = await start();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  // Two frames (lengths 3 and 2); the second is split across two writes.
  const frames = new Uint8Array([3, 1, 2, 3, 2, 4, 5]);
  await conn.write(frames.subarray(0, 6));
  assert.deepEqual(await readBytes(conn, 4), frames.subarray(0, 4));
  await conn.write(frames.subarray(6));
  assert.deepEqual(await readBytes(conn, 3), frames.subarray(4));
});

Deno.test("raw_echo_node.ts closes a connection whose length prefix is malformed", async () => {
  await using server = await start();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(new Uint8Array(11).fill(0x80)); // a prefix over 10 bytes
  assert.equal((await readBytes(conn, 1)).length, 0);
});

Deno.test("bench:load --targets raw-echo-node measures it beside raw-echo", async () => {
  const { rows } = await benchRows<LoadResult>("load.ts", [
    "--smoke",
    "--targets",
    "raw-echo,raw-echo-node",
  ]);
  const node = rows.filter((r) => r.target === "raw-echo-node");
  assert.ok(node.length > 0);
  for (const r of node) assert.ok(r.requests_per_second > 0, r.target);
});
