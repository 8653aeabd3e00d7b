import assert from "node:assert/strict";
import { measureAlloc } from "./alloc.ts";

Deno.test("measureAlloc samples the server's and the raw loop's allocations at 1 and 16 requests per read, and names the server's context", async () => {
  const rows = await measureAlloc({ reads: 2000, interval: 32, top: 5 });
  assert.deepEqual(
    rows.map((r) => [r.target, r.pipeline]),
    [["nanorpc-wasm", 1], ["raw loop", 1], ["nanorpc-wasm", 16], [
      "raw loop",
      16,
    ]],
  );
  const server16 = rows[2];
  // Every request allocates its context (72 bytes without pointer
  // compression): sampled, some tens of bytes per request at least.
  assert.ok(server16.bytes_per_request > 40, `${server16.bytes_per_request}`);
  assert.ok(server16.bytes_per_request > rows[3].bytes_per_request);
  assert.match(server16.top[0].fn, /_dispatch\.ts/);
});
