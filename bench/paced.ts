/**
 * The nano-style paced run: 1,000 clients each send one `/echo` request
 * every 10 ms (100,000 requests/s offered, the load behind nano's "110k
 * IOPS" figure), open loop, against each target in turn.
 *
 * ```sh
 * deno run -A bench/paced.ts --duration 5
 * deno run -A bench/paced.ts --smoke
 * ```
 *
 * Flags: `--clients` (default 1000), `--interval` comma list of ms
 * (default 10,40: nano's load, then a quarter of it as a load the
 * 2-core CI machine can sustain),
 * `--duration SECONDS` (default 5), `--warmup SECONDS` (default 1),
 * `--payload BYTES` (default 32), `--targets` (`none` for none), `--target
 * NAME=tcp://HOST:PORT` (repeatable: a running server with the demo's
 * `/echo`, as in bench:load; `?pid=PID` names its process), `--cpu-prof DIR` (profile the server; see
 * bench/profile.ts), `--out FILE` (default
 * results/paced.json), `--smoke` (200 clients, 1 s, results/smoke/).
 *
 * Sends are spread evenly over the interval (clients are phased
 * interval/clients apart) and each is due at a fixed time whether or not
 * earlier answers came back (open loop). Latency is per request, from its
 * write to its response; `send lag` says how late the generator was with
 * its writes against the schedule (a ticker wakes about every ms), so a
 * generator that cannot keep up shows there, and in `achieved/s`. A client
 * with 256 requests unanswered skips sends (counted).
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
  machineNote,
  markdownTable,
  requestFrames,
  startTarget,
  type Target,
  TARGETS,
  waitQuiet,
  writeResults,
} from "./_harness.ts";
import { externalTarget, parseTarget } from "./_external.ts";
import type { ShardTask } from "./_load_worker.ts";
import { runShards, shardSizes } from "./_shards.ts";

/** One paced run, as written to results/paced.json. */
export interface PacedResult {
  target: string;
  clients: number;
  interval_ms: number;
  payload_bytes: number;
  offered_rps: number;
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  /** Server CPU time per request in microseconds. */
  server_us_per_request: number;
  /** How late the generator sent (99th percentile), in ms. */
  send_lag_p99_ms: number;
  /** Sends skipped because a client had RING requests unanswered. */
  skipped: number;
  server_cpu_percent: number;
  loadgen_cpu_percent: number;
  other_cpu_percent: number;
  errors: number;
}

const RING = 256;

async function measure(
  target: Target,
  clients: number,
  interval: number,
  payloadBytes: number,
  warmup: number,
  duration: number,
): Promise<PacedResult> {
  const payload = new Uint8Array(payloadBytes).map((_, i) => i & 0xff);
  const { frames, frameSize } = requestFrames(
    "/echo",
    payload,
    "hash",
    RING,
    RING,
  );
  // The schedule starts once every shard has had time to connect, and
  // before the warm-up ends (main() keeps warm-up at least this long).
  const startAt = performance.timeOrigin + performance.now() +
    SCHEDULE_DELAY_MS;
  let firstClient = 0;
  const tasks: ShardTask[] = shardSizes(clients).map((n) => {
    const task: ShardTask = {
      mode: "paced",
      hostname: target.hostname,
      port: target.port,
      connections: n,
      frames,
      frameSize,
      slots: RING,
      firstClient,
      totalClients: clients,
      interval,
      startAt,
    };
    firstClient += n;
    return task;
  });
  const t = await runShards(target, tasks, warmup, duration);
  return {
    target: target.name,
    clients,
    interval_ms: interval,
    payload_bytes: payloadBytes,
    offered_rps: Math.round(clients * 1000 / interval),
    requests_per_second: Math.round(t.perSecond),
    p50_ms: round3(t.latency.quantile(0.5)),
    p99_ms: round3(t.latency.quantile(0.99)),
    send_lag_p99_ms: round3(t.lag.quantile(0.99)),
    skipped: t.skipped,
    server_cpu_percent: Math.round(t.serverCpu),
    server_us_per_request: round3(
      t.serverSeconds / Math.max(1, t.completed) * 1e6,
    ),
    loadgen_cpu_percent: Math.round(t.selfCpu),
    other_cpu_percent: Math.round(t.otherCpu),
    errors: t.errors,
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The results as a markdown table. */
export function pacedTable(results: PacedResult[]): string {
  return markdownTable(
    [
      "target",
      "clients × interval",
      "offered/s",
      "achieved/s",
      "p50 ms",
      "p99 ms",
      "send lag p99 ms",
      "skipped",
      "server CPU %",
      "server µs/req",
      "loadgen CPU %",
      "other CPU %",
    ],
    results.map((r) => [
      r.target,
      `${r.clients} × ${r.interval_ms} ms`,
      r.offered_rps.toLocaleString("en-US"),
      r.requests_per_second.toLocaleString("en-US"),
      fmt(r.p50_ms, 3),
      fmt(r.p99_ms, 3),
      fmt(r.send_lag_p99_ms, 3),
      String(r.skipped),
      String(r.server_cpu_percent),
      fmt(r.server_us_per_request, 1),
      String(r.loadgen_cpu_percent),
      String(r.other_cpu_percent),
    ]),
  );
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      clients: { type: "string", default: "1000" },
      interval: { type: "string", default: "10,40" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      payload: { type: "string", default: "32" },
      targets: { type: "string", default: TARGETS.map((t) => t.name).join() },
      target: { type: "string", multiple: true },
      out: { type: "string" },
      smoke: { type: "boolean", default: false },
      quiet: { type: "string", default: "15" },
      "cpu-prof": { type: "string" },
    },
  });
  const smoke = values.smoke;
  const profileFlags = values["cpu-prof"]
    ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`]
    : [];
  const clients = smoke ? 200 : Number(values.clients);
  const intervals = values.interval.split(",").map(Number);
  const duration = smoke ? 1 : Number(values.duration);
  const warmup = Math.max(
    smoke ? 0.3 : Number(values.warmup),
    SCHEDULE_DELAY_MS / 1000,
  );
  const payload = Number(values.payload);
  const wanted = values.targets.split(",").map((s) => s.trim());
  const out = values.out !== undefined
    ? fromCwd(values.out)
    : (smoke ? "results/smoke/paced.json" : "results/paced.json");
  console.log(machineNote());
  console.log(
    `paced: ${clients} clients × 1 request / ${
      intervals.join(" or ")
    } ms, /echo, ` +
      `${payload} B payload, ${duration} s after ${warmup} s warm-up`,
  );
  // Running servers (--target) are checked once and measured after the
  // started ones, at every interval.
  const running: Target[] = [];
  for (const spec of (values.target ?? []).map(parseTarget)) {
    const { target, note } = await externalTarget(spec);
    console.log(`${spec.name}: external at ${spec.url}, ${note}`);
    running.push(target);
  }
  const results: PacedResult[] = [];
  for (const interval of intervals) {
    const started = TARGETS.filter((t) => wanted.includes(t.name));
    for (const spec of [...started, ...running]) {
      const target = "script" in spec
        ? await startTarget(spec, { denoFlags: profileFlags })
        : spec;
      try {
        if (!smoke) await waitQuiet(Number(values.quiet));
        const r = await measure(
          target,
          clients,
          interval,
          payload,
          warmup,
          duration,
        );
        results.push(r);
        console.log(
          `${r.target} ${clients}×${interval} ms: ` +
            `${r.requests_per_second.toLocaleString("en-US")}/s of ` +
            `${r.offered_rps.toLocaleString("en-US")}/s offered, p50 ` +
            `${fmt(r.p50_ms, 3)} ms, p99 ${fmt(r.p99_ms, 3)} ms, send lag ` +
            `p99 ${fmt(r.send_lag_p99_ms, 3)} ms, CPU server ` +
            `${r.server_cpu_percent}% (${
              fmt(r.server_us_per_request, 1)
            } µs/req) loadgen ${r.loadgen_cpu_percent}% ` +
            `other ${r.other_cpu_percent}%` +
            (r.errors ? `, ${r.errors} errors` : ""),
        );
      } finally {
        if (target !== spec) await target.stop();
      }
    }
  }
  await Promise.all(running.map((t) => t.stop()));
  console.log();
  console.log(pacedTable(results));
  console.log();
  await writeResults(out, results);
  if (results.some((r) => r.errors > 0)) Deno.exitCode = 1;
  const idle = results.filter((r) => r.requests_per_second === 0);
  if (idle.length > 0) {
    console.error(
      `paced: no request completed for ${
        idle.map((r) => r.target).join(", ")
      }: the measurement saw nothing`,
    );
    Deno.exitCode = 1;
  }
}

/** Delay before the paced schedule starts, so every shard is connected. */
const SCHEDULE_DELAY_MS = 1000;

if (import.meta.main) await main(Deno.args);
