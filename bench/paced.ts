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
 * `--payload BYTES` (default 32), `--targets`, `--cpu-prof DIR` (profile the server; see
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
  closeAll,
  connectMany,
  cpuSeconds,
  fmt,
  Histogram,
  ID_BASE,
  machineBusySeconds,
  machineNote,
  markdownTable,
  requestFrames,
  sleep,
  splitFrames,
  startTarget,
  type Target,
  TARGETS,
  waitQuiet,
  writeResults,
} from "./_harness.ts";

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

interface Client {
  conn: Deno.Conn;
  sentAt: Float64Array;
  next: number;
  outstanding: number;
}

interface PacedState {
  measuring: boolean;
  stopped: boolean;
  completed: number;
  skipped: number;
  errors: number;
  latency: Histogram;
  lag: Histogram;
}

async function readLoop(client: Client, state: PacedState): Promise<void> {
  let buf = new Uint8Array(16384);
  let filled = 0;
  let now = 0;
  const onFrame = (id: number) => {
    const slot = id - ID_BASE;
    if (slot < 0 || slot >= RING) {
      state.errors++;
      return;
    }
    client.outstanding--;
    if (state.measuring) {
      state.latency.record(now - client.sentAt[slot]);
      state.completed++;
    }
  };
  try {
    while (!state.stopped) {
      if (filled === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await client.conn.read(buf.subarray(filled));
      if (n === null) {
        state.errors++;
        return;
      }
      now = performance.now();
      filled += n;
      const end = splitFrames(buf, filled, onFrame);
      if (end > 0) {
        buf.copyWithin(0, end, filled);
        filled -= end;
      }
    }
  } catch {
    if (!state.stopped) state.errors++;
  }
}

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
  const conns = await connectMany(target, clients);
  const all: Client[] = conns.map((conn) => ({
    conn,
    sentAt: new Float64Array(RING),
    next: 0,
    outstanding: 0,
  }));
  const state: PacedState = {
    measuring: false,
    stopped: false,
    completed: 0,
    skipped: 0,
    errors: 0,
    latency: new Histogram(),
    lag: new Histogram(),
  };
  const reads = all.map((c) => readLoop(c, state));
  const send = (c: Client, due: number) => {
    if (c.outstanding >= RING) {
      if (state.measuring) state.skipped++;
      return;
    }
    const slot = c.next;
    c.next = (slot + 1) % RING;
    c.outstanding++;
    const now = performance.now();
    c.sentAt[slot] = now;
    if (state.measuring) state.lag.record(now - due);
    const chunk = frames.subarray(slot * frameSize, (slot + 1) * frameSize);
    c.conn.write(chunk).then((n) => {
      if (n !== chunk.length) state.errors++;
    }, () => {
      if (!state.stopped) state.errors++;
    });
  };
  // Client i is due at start + i·interval/clients + k·interval.
  const step = interval / clients;
  const start = performance.now() + 5;
  let k = 0; // how many sends are done, over all clients
  const ticker = (async () => {
    while (!state.stopped) {
      const now = performance.now();
      for (;;) {
        const due = start + k * step;
        if (due > now) break;
        send(all[k % clients], due);
        k++;
      }
      await sleep(1);
    }
  })();
  await sleep(warmup * 1000);
  const server0 = target.cpuSeconds();
  const self0 = cpuSeconds("self");
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  state.measuring = true;
  await sleep(duration * 1000);
  state.measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const server = target.cpuSeconds() - server0;
  const self = cpuSeconds("self") - self0;
  const busy = machineBusySeconds() - busy0;
  state.stopped = true;
  await ticker;
  await sleep(200);
  closeAll(conns);
  await Promise.allSettled(reads);
  return {
    target: target.name,
    clients,
    interval_ms: interval,
    payload_bytes: payloadBytes,
    offered_rps: Math.round(clients * 1000 / interval),
    requests_per_second: Math.round(state.completed / seconds),
    p50_ms: round3(state.latency.quantile(0.5)),
    p99_ms: round3(state.latency.quantile(0.99)),
    send_lag_p99_ms: round3(state.lag.quantile(0.99)),
    skipped: state.skipped,
    server_cpu_percent: Math.round(server / seconds * 100),
    server_us_per_request: round3(
      server / Math.max(1, state.completed) * 1e6,
    ),
    loadgen_cpu_percent: Math.round(self / seconds * 100),
    other_cpu_percent: Math.max(
      0,
      Math.round((busy - server - self) / seconds * 100),
    ),
    errors: state.errors,
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
  const warmup = smoke ? 0.3 : Number(values.warmup);
  const payload = Number(values.payload);
  const wanted = values.targets.split(",").map((s) => s.trim());
  const out = values.out ??
    (smoke ? "results/smoke/paced.json" : "results/paced.json");
  console.log(machineNote());
  console.log(
    `paced: ${clients} clients × 1 request / ${
      intervals.join(" or ")
    } ms, /echo, ` +
      `${payload} B payload, ${duration} s after ${warmup} s warm-up`,
  );
  const results: PacedResult[] = [];
  for (const interval of intervals) {
    for (const spec of TARGETS.filter((t) => wanted.includes(t.name))) {
      const target = await startTarget(spec, { denoFlags: profileFlags });
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
        await target.stop();
      }
    }
  }
  console.log();
  console.log(pacedTable(results));
  console.log();
  await writeResults(out, results);
  if (results.some((r) => r.errors > 0)) Deno.exitCode = 1;
}

if (import.meta.main) await main(Deno.args);
