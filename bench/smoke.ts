/**
 * Runs every end-to-end benchmark in its smoke mode (about a second per
 * target), one after the other, so that CI notices when one rots:
 *
 * ```sh
 * deno run -A bench/smoke.ts
 * ```
 *
 * Results go to bench/results/smoke/ (not committed). Exits non-zero when a
 * benchmark fails; the figures themselves are not judged (a 2-core CI
 * machine shared with other jobs says little about speed).
 *
 * @module
 */

const BENCHES = ["load.ts", "paced.ts", "fanout.ts", "memory.ts"];

async function main(): Promise<number> {
  const dir = new URL(".", import.meta.url).pathname;
  const started = performance.now();
  let failed = 0;
  for (const bench of BENCHES) {
    const t0 = performance.now();
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", dir + bench, "--smoke"],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
      signal: AbortSignal.timeout(120_000),
    }).spawn().status;
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `smoke: bench/${bench} ${
        code === 0 ? "ok" : `failed (exit ${code})`
      } in ${seconds} s`,
    );
    if (code !== 0) failed++;
  }
  const total = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `smoke: ${
      BENCHES.length - failed
    } of ${BENCHES.length} passed in ${total} s`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
