import assert from "node:assert/strict";
import { measureLoop } from "./loop.ts";

Deno.test("measureLoop times every target at 1 and 16 requests per read", async () => {
  const rows = await measureLoop({ reads: 300, repeat: 1 });
  assert.deepEqual(
    rows.map((r) => [r.target, r.pipeline]),
    [
      ["nanorpc-wasm", 1],
      ["nanorpc-wasm, metrics off", 1],
      ["raw loop", 1],
      ["nanorpc-wasm", 16],
      ["nanorpc-wasm, metrics off", 16],
      ["raw loop", 16],
    ],
  );
  for (const r of rows) {
    assert.ok(r.us_per_request_min > 0, `${r.target} measured nothing`);
    assert.ok(r.us_per_request_median >= r.us_per_request_min);
  }
});
