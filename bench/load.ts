/**
 * `deno task bench:load`: closed-loop `/echo` load against each target
 * server, one after the other in the same run, each target in its own
 * process and this load generator in another.
 *
 * ```sh
 * deno task bench:load --duration 5 --connections 1,100,1000 --pipeline 1,16
 * deno task bench:load --smoke
 * ```
 *
 * Flags: `--duration SECONDS` per measurement (default 5), `--warmup
 * SECONDS` before it (default 1), `--connections` comma list (default
 * 1,100,1000), `--pipeline` comma list of requests in flight per connection
 * (default 1), `--payload BYTES` (default 32), `--path hash|string` (what
 * requests carry; default hash), `--targets` comma list (default
 * nanorpc-wasm,nanorpc-protobuf-es,raw-echo,go-reference), `--out FILE`
 * (relative to the working directory; default bench/results/load.json),
 * `--smoke` (1 s per target,
 * connections 1,100, results under results/smoke/), `--repeat N` (measure
 * each configuration N times, targets interleaved; report the median run),
 * `--deno-flags "…"` (extra `deno run` flags for the targets, e.g.
 * `--v8-flags=--single-threaded-gc`), `--cpu-prof DIR` (run the targets under `deno run --cpu-prof`; each
 * writes a .cpuprofile into DIR when it stops; read them with
 * bench/profile.ts).
 *
 * The generator is kept lean so that it measures the servers: frames are
 * encoded once before the run, each connection sends a batch in one write,
 * and responses are only split by their varint prefix (plus reading the
 * leading request_id to check order). Latency is per request, send to
 * response, kept in a fixed histogram. Server and generator CPU use come
 * from /proc, so the table shows which side was saturated.
 *
 * Full runs first wait (up to 3 minutes) until the rest of the machine
 * uses at most `--quiet` percent of a core (default 15), and every row
 * reports the CPU other processes took while it was measured.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  fmt,
  fromCwd,
  GO_REFERENCE,
  machine,
  machineNote,
  markdownTable,
  type PathForm,
  requestFrames,
  sleep,
  startTarget,
  type Target,
  TARGETS,
  waitQuiet,
  writeResults,
} from "./_harness.ts";
import { goReferenceStatus } from "./_go.ts";
import type { ShardTask } from "./_load_worker.ts";
import { runShards, shardSizes } from "./_shards.ts";

/** One measured configuration, as written to results/load.json. */
export interface LoadResult {
  target: string;
  connections: number;
  pipeline: number;
  payload_bytes: number;
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU use of the server process over the window (100 = one core). */
  server_cpu_percent: number;
  /**
   * Server CPU time per request in microseconds: what one request costs
   * the server, whichever side was saturated.
   */
  server_us_per_request: number;
  /** CPU use of this load generator over the window. */
  loadgen_cpu_percent: number;
  /** CPU use of every other process on the machine (noise; want ~0). */
  other_cpu_percent: number;
  /** Responses out of order or missing, and connections lost. */
  errors: number;
}

/** One configuration of the closed-loop load. */
export interface LoadConfig {
  connections: number;
  pipeline: number;
  payload: number;
  duration: number;
  warmup: number;
  path: PathForm;
}

/** Measures one target at one configuration. */
export async function measure(
  target: Target,
  cfg: LoadConfig,
): Promise<LoadResult> {
  const payload = new Uint8Array(cfg.payload).map((_, i) => i & 0xff);
  const { frames, frameSize } = requestFrames(
    "/echo",
    payload,
    cfg.path,
    2 * cfg.pipeline,
    cfg.pipeline,
  );
  const tasks: ShardTask[] = shardSizes(cfg.connections).map((n) => ({
    mode: "closed",
    hostname: target.hostname,
    port: target.port,
    connections: n,
    frames,
    frameSize,
    slots: cfg.pipeline,
  }));
  const t = await runShards(target, tasks, cfg.warmup, cfg.duration);
  return {
    target: target.name,
    connections: cfg.connections,
    pipeline: cfg.pipeline,
    payload_bytes: cfg.payload,
    requests_per_second: Math.round(t.perSecond),
    p50_ms: round3(t.latency.quantile(0.5)),
    p99_ms: round3(t.latency.quantile(0.99)),
    server_cpu_percent: Math.round(t.serverCpu),
    server_us_per_request: round3(
      t.serverSeconds / Math.max(1, t.completed) * 1e6,
    ),
    loadgen_cpu_percent: Math.round(t.selfCpu),
    other_cpu_percent: Math.round(t.otherCpu),
    errors: t.errors,
  };
}

function runLine(r: LoadResult): string {
  return `${r.target} c=${r.connections} p=${r.pipeline}: ` +
    `${r.requests_per_second.toLocaleString("en-US")} req/s, ` +
    `p50 ${fmt(r.p50_ms, 3)} ms, p99 ${fmt(r.p99_ms, 3)} ms, ` +
    `CPU server ${r.server_cpu_percent}% ` +
    `(${fmt(r.server_us_per_request, 1)} µs/req) ` +
    `loadgen ${r.loadgen_cpu_percent}% other ${r.other_cpu_percent}%` +
    (r.errors ? `, ${r.errors} errors` : "");
}

/** The run with the median requests/s (the lower middle for even counts). */
function median(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) =>
    a.requests_per_second - b.requests_per_second
  );
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function numbers(list: string, flag: string): number[] {
  const values = list.split(",").map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--${flag} wants positive integers, got ${list}`);
  }
  return values;
}

/** The results as a markdown table, with each target's share of raw-echo. */
export function loadTable(results: LoadResult[]): string {
  const raw = new Map<string, number>();
  for (const r of results) {
    if (r.target === "raw-echo") {
      raw.set(`${r.connections}/${r.pipeline}`, r.requests_per_second);
    }
  }
  return markdownTable(
    [
      "target",
      "connections",
      "pipeline",
      "payload B",
      "requests/s",
      "× raw-echo",
      "p50 ms",
      "p99 ms",
      "server CPU %",
      "server µs/req",
      "loadgen CPU %",
      "other CPU %",
    ],
    results.map((r) => {
      const base = raw.get(`${r.connections}/${r.pipeline}`);
      return [
        r.target,
        String(r.connections),
        String(r.pipeline),
        String(r.payload_bytes),
        r.requests_per_second.toLocaleString("en-US"),
        base ? fmt(r.requests_per_second / base) : "–",
        fmt(r.p50_ms, 3),
        fmt(r.p99_ms, 3),
        String(r.server_cpu_percent),
        fmt(r.server_us_per_request, 1),
        String(r.loadgen_cpu_percent),
        String(r.other_cpu_percent),
      ];
    }),
  );
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      connections: { type: "string", default: "1,100,1000" },
      pipeline: { type: "string", default: "1" },
      payload: { type: "string", default: "32" },
      path: { type: "string", default: "hash" },
      targets: {
        type: "string",
        default: [...TARGETS.map((t) => t.name), GO_REFERENCE].join(","),
      },
      out: { type: "string" },
      repeat: { type: "string", default: "1" },
      "cpu-prof": { type: "string" },
      "deno-flags": { type: "string" },
      smoke: { type: "boolean", default: false },
      quiet: { type: "string", default: "15" },
    },
  });
  const smoke = values.smoke;
  const duration = smoke ? 1 : Number(values.duration);
  const warmup = smoke ? 0.3 : Number(values.warmup);
  const connections = numbers(
    smoke ? "1,100" : values.connections,
    "connections",
  );
  const pipelines = numbers(smoke ? "1" : values.pipeline, "pipeline");
  const payload = Number(values.payload);
  const repeat = smoke ? 1 : numbers(values.repeat, "repeat")[0];
  const path = values.path as PathForm;
  if (path !== "hash" && path !== "string") {
    throw new Error("--path must be hash or string");
  }
  const wanted = values.targets.split(",").map((s) => s.trim());
  const specs = TARGETS.filter((t) => wanted.includes(t.name));
  const out = values.out !== undefined
    ? fromCwd(values.out)
    : (smoke ? "results/smoke/load.json" : "results/load.json");

  console.log(machineNote());
  console.log(
    `load: /echo, ${payload} B payload, path as ${path}, ${duration} s per ` +
      `run after ${warmup} s warm-up; connections ${connections.join(",")}; ` +
      `pipeline ${pipelines.join(",")}`,
  );
  if (wanted.includes(GO_REFERENCE)) {
    console.log(`${GO_REFERENCE}: ${await goReferenceStatus(smoke)}`);
  }

  const targets: Target[] = [];
  const results: LoadResult[] = [];
  try {
    const profile = values["cpu-prof"];
    const denoFlags = [
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      ...(values["deno-flags"]?.split(" ").filter(Boolean) ?? []),
    ];
    for (const spec of specs) {
      targets.push(await startTarget(spec, { denoFlags }));
    }
    for (const pipeline of pipelines) {
      for (const conns of connections) {
        const runs = targets.map(() => [] as LoadResult[]);
        for (let round = 0; round < repeat; round++) {
          for (const [i, target] of targets.entries()) {
            if (!smoke) await waitQuiet(Number(values.quiet));
            const r = await measure(target, {
              connections: conns,
              pipeline,
              payload,
              duration,
              warmup,
              path,
            });
            runs[i].push(r);
            console.log(runLine(r));
            // Let the server finish closing sessions before the next run.
            await sleep(conns >= 1000 ? 1000 : 300);
          }
        }
        results.push(...runs.map(median));
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
  console.log();
  console.log(loadTable(results));
  console.log();
  await writeResults(out, results);
  const m = machine();
  console.log(
    `${m.cores} cores shared by server and load generator: numbers are ` +
      `relative to each other, not the server's ceiling on a larger machine.`,
  );
  if (results.some((r) => r.errors > 0)) {
    console.error("some runs had errors (see the per-run lines)");
    Deno.exitCode = 1;
  }
  const idle = results.filter((r) => r.requests_per_second === 0);
  if (idle.length > 0) {
    console.error(
      `no request completed for ${
        idle.map((r) => r.target).join(", ")
      }: the measurement saw nothing`,
    );
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await main(Deno.args);
