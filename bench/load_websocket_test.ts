// bench:load's nanorpc-ws target, end to end: the benchmark server over
// ws://…/nanorpc, driven by WebSocket load workers beside TCP.

import assert from "node:assert/strict";
import type { LoadResult } from "./load.ts";
import { benchRows } from "./_test_utils.ts";

Deno.test("bench:load measures nanorpc-ws over WebSocket beside nanorpc-wasm over TCP", async () => {
  const { rows } = await benchRows<LoadResult>("load.ts", [
    "--smoke",
    "--targets",
    "nanorpc-wasm,nanorpc-ws",
  ]);
  assert.deepEqual(
    rows.map((r) => [r.target, r.connections]),
    [
      ["nanorpc-wasm", 1],
      ["nanorpc-ws", 1],
      ["nanorpc-wasm", 100],
      ["nanorpc-ws", 100],
    ],
  );
  for (const r of rows) {
    const what = JSON.stringify(r);
    assert.ok(r.requests_per_second > 0, what);
    assert.equal(r.errors, 0, what);
  }
  assert.match(rows[1].url, /^ws:\/\/127\.0\.0\.1:\d+\/nanorpc$/);
  assert.match(rows[0].url, /^tcp:\/\//);
});
