// bench:load's --target, end to end: `deno task server` runs as a server
// the benchmark did not start, and a smoke run measures it beside raw-echo.

import assert from "node:assert/strict";
import type { LoadResult } from "./load.ts";
import type { PacedResult } from "./paced.ts";
import { listenerPid } from "./_socket_owner.ts";
import { bench, benchRows } from "./_test_utils.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** `deno task server` on an ephemeral port, stopped on dispose. */
async function taskServer() {
  const task = new Deno.Command(Deno.execPath(), {
    args: ["task", "server", "--tcp", "127.0.0.1:0", "--log-level", "warn"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = task.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let match: RegExpMatchArray | null = null;
  while (!(match = text.match(/listening on tcp:\/\/(\S+):(\d+)/))) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`deno task server exited: ${text}`);
    text += value;
  }
  // Keep draining, so the server never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  const port = Number(match[2]);
  // `deno task` runs the server as its child: find the process itself.
  const pid = listenerPid({ transport: "tcp", hostname: match[1], port }).pid;
  return {
    url: `tcp://${match[1]}:${port}`,
    pid,
    async [Symbol.asyncDispose]() {
      if (pid !== undefined) Deno.kill(pid, "SIGTERM");
      const timer = setTimeout(() => task.kill("SIGKILL"), 10_000);
      await task.status;
      clearTimeout(timer);
      await drained;
    },
  };
}

Deno.test("bench:load --target measures a running deno task server beside raw-echo, with its RSS", async () => {
  await using server = await taskServer();
  assert.ok(server.pid, "the server's pid is found by its listening socket");
  const { log, rows } = await benchRows<LoadResult>("load.ts", [
    "--smoke",
    "--targets",
    "raw-echo",
    "--target",
    `task=${server.url}`,
  ]);
  assert.match(log, new RegExp(`task: external at .*pid ${server.pid}`));
  // Per configuration, targets in turn: started ones, then external ones.
  assert.deepEqual(
    rows.map((r) => [r.target, r.connections, r.external]),
    [
      ["raw-echo", 1, false],
      ["task", 1, true],
      ["raw-echo", 100, false],
      ["task", 100, true],
    ],
  );
  for (const r of rows) {
    const what = JSON.stringify(r);
    assert.ok(r.requests_per_second > 0, what);
    assert.equal(r.errors, 0, what);
    assert.ok(r.server_cpu_percent !== null, what);
    assert.ok(r.server_rss_idle_bytes! > 1 << 20, what);
    assert.ok(r.server_rss_peak_bytes! > 1 << 20, what);
  }
  assert.equal(rows[1].url, server.url);
  assert.match(log, /\| task \| 1 \| 1 \|/);
});

Deno.test("bench:load --target refuses a pid that is not a process, before measuring", async () => {
  await using server = await taskServer();
  const run = await bench("load.ts", [
    "--smoke",
    "--targets",
    "none",
    "--target",
    `task=${server.url}?pid=${2 ** 30}`,
    "--out",
    "/dev/null",
  ]);
  assert.notEqual(run.code, 0);
  assert.match(
    new TextDecoder().decode(run.stderr),
    /--target task: there is no process \d+/,
  );
});

Deno.test("bench/paced.ts --target measures a running deno task server at a fixed offered rate, with its CPU per request", async () => {
  await using server = await taskServer();
  const { log, rows } = await benchRows<PacedResult>("paced.ts", [
    "--smoke",
    "--interval",
    "40",
    "--targets",
    "none",
    "--target",
    `task=${server.url}`,
  ]);
  assert.match(log, new RegExp(`task: external at .*pid ${server.pid}`));
  assert.deepEqual(rows.map((r) => r.target), ["task"]);
  assert.ok(rows[0].requests_per_second > 0, log);
  assert.ok(rows[0].server_us_per_request > 0, "CPU from the found pid");
  assert.equal(rows[0].errors, 0);
});

Deno.test("bench:load --conn-read op starts the servers reading their sockets through the op under Deno.Conn.read", async () => {
  const { log, rows } = await benchRows<LoadResult>("load.ts", [
    "--smoke",
    "--targets",
    "nanorpc-wasm,raw-echo",
    "--conn-read",
    "op",
  ]);
  for (const name of ["nanorpc-wasm", "raw-echo"]) {
    assert.ok(
      log.includes(
        `[${name}] sockets read through the op under Deno.Conn.read`,
      ),
      log,
    );
  }
  assert.equal(rows.length, 4);
  for (const r of rows) {
    assert.ok(r.requests_per_second > 0 && r.errors === 0, JSON.stringify(r));
  }
  const wrong = await bench("load.ts", ["--smoke", "--conn-read", "fd"]);
  assert.notEqual(wrong.code, 0);
  assert.match(
    new TextDecoder().decode(wrong.stderr),
    /--conn-read must be conn or op, got fd/,
  );
});
