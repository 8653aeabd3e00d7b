// bench:load's nanorpc-ws target, end to end: the benchmark server over
// ws://…/nanorpc, driven by WebSocket load workers beside TCP.

import assert from "node:assert/strict";
import type { LoadResult } from "./load.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("bench:load measures nanorpc-ws over WebSocket beside nanorpc-wasm over TCP", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/load.json`;
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}bench/load.ts`,
        "--smoke",
        "--targets",
        "nanorpc-wasm,nanorpc-ws",
        "--out",
        out,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const log = new TextDecoder().decode(run.stdout) +
      new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, log);
    const rows = JSON.parse(await Deno.readTextFile(out)) as LoadResult[];
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
