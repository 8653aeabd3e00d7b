// Running the benchmark scripts from their tests: bench/load_test.ts,
// bench/load_websocket_test.ts.

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

/** Runs `bench/SCRIPT` with `args`, output captured. */
export async function bench(
  script: string,
  args: string[],
): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/${script}`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
}

/**
 * Runs `bench/SCRIPT` with `args` and `--out` a file in a temporary
 * directory; asserts it succeeded, and returns its output and its rows.
 */
export async function benchRows<Row>(
  script: string,
  args: string[],
): Promise<{ log: string; rows: Row[] }> {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/results.json`;
    const run = await bench(script, [...args, "--out", out]);
    const log = new TextDecoder().decode(run.stdout) +
      new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, log);
    return { log, rows: JSON.parse(await Deno.readTextFile(out)) as Row[] };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
