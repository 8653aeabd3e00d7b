import assert from "node:assert/strict";
import { measure, summarize } from "./conn_read_old_space.ts";

const gcLine = (
  gc: string,
  endObjectSize: number,
  promoted = 0,
  survived = 100,
) =>
  `[1:0x1:0]   10 ms: GC: ${
    JSON.stringify({
      gc,
      promoted,
      end_object_size: endObjectSize,
      new_space_survived: survived,
    })
  }`;

Deno.test("summarize counts full collections and old bytes young collections did not promote", () => {
  const trace = [
    "listening",
    gcLine("s", 1_100), // old 1,000: the baseline
    gcLine("s", 1_600), // +500 allocated in old space directly
    gcLine("s", 2_100, 300), // +500, but promotion explains it: not counted
    gcLine("mc", 700), // a full collection: old 600
    gcLine("s", 900), // old 800: +200 after it
    `[1:0x1:0]   11 ms: GC: {"gc":"s","prom`, // cut short by another line
  ].join("\n");
  assert.deepEqual(summarize("conn", 100, trace), {
    path: "conn",
    reads: 100,
    markCompacts: 1,
    oldBytesPerRead: 7,
  });
});

Deno.test("measure traces both ways of reading, each in a child process", async () => {
  const results = await measure(4, 50);
  assert.deepEqual(results.map((r) => r.path), ["conn", "op"]);
  for (const r of results) {
    assert.equal(r.reads, 4 * 50 * 2);
    assert.ok(r.markCompacts >= 0 && Number.isFinite(r.oldBytesPerRead));
  }
});
