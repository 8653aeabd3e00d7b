/**
 * Fan-out: one publisher, 10,000 subscribers on one topic. The subscribers
 * are raw TCP connections in this process (each sends one SUBSCRIBE
 * frame); the server runs bench/serve.ts in its own process, and the
 * publisher is one more connection calling `/bench/publish`, which
 * publishes its data to the topic.
 *
 * ```sh
 * deno run -A bench/fanout.ts
 * deno run -A bench/fanout.ts --smoke
 * ```
 *
 * Two measurements per target:
 * - single publishes, one at a time: time from writing the publish request
 *   to the first and to the last subscriber having the update;
 * - bursts: `--burst` publishes written at once; updates delivered per
 *   second until the last subscriber has the last one.
 *
 * Flags: `--subscribers` (default 10000), `--rounds` (single publishes,
 * default 20), `--burst` (publishes per burst, default 50), `--bursts`
 * (default 3), `--targets` (default nanorpc-wasm,nanorpc-protobuf-es,raw-broadcast:
 * the Deno ceiling, bench/raw_broadcast.ts),
 * `--cpu-prof DIR` (profile the server; see
 * bench/profile.ts), `--out FILE` (default results/fanout.json), `--smoke` (1,000
 * subscribers, 3 rounds, one burst of 10).
 *
 * Full runs first wait (up to 3 minutes) until the rest of the machine
 * uses at most `--quiet` percent of a core (default 15), and every row
 * reports the CPU other processes took while it was measured.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { parseArgs } from "node:util";
import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
import { fnv1a, RequestType } from "../wasm/wire.ts";
import {
  closeAll,
  connectMany,
  cpuSeconds,
  fmt,
  fromCwd,
  machineBusySeconds,
  machineNote,
  markdownTable,
  sleep,
  startTarget,
  type Target,
  TARGETS,
  type TargetSpec,
  waitQuiet,
  writeAll,
  writeResults,
} from "./_harness.ts";
import { readUpdates } from "./_frames.ts";
import { PUBLISH, UPDATES } from "./serve.ts";

/** One target's fan-out figures, as written to results/fanout.json. */
export interface FanoutResult {
  target: string;
  subscribers: number;
  /** Single publishes measured. */
  rounds: number;
  /** Publish to the first subscriber having it, median over rounds. */
  first_update_p50_ms: number;
  /** Publish to the last subscriber having it, median over rounds. */
  last_update_p50_ms: number;
  /** The worst round. */
  last_update_max_ms: number;
  /** Server CPU time per single publish (all its updates), in ms. */
  server_cpu_ms_per_publish: number;
  /** This process's CPU time per single publish (reading the updates). */
  loadgen_cpu_ms_per_publish: number;
  /** Publishes per burst, and bursts. */
  burst: number;
  bursts: number;
  /** Updates delivered per second during bursts (median burst). */
  updates_per_second: number;
  /** Updates that never arrived (dropped by a full outgoing buffer). */
  missing: number;
  server_cpu_percent: number;
  loadgen_cpu_percent: number;
  other_cpu_percent: number;
}

/** The fan-out ceiling: frames forwarded unchanged, no protobuf work. */
const RAW_BROADCAST: TargetSpec = {
  name: "raw-broadcast",
  script: "raw_broadcast.ts",
  args: [],
};

const SUB_ID = 1;
const PAYLOAD = 16;
const TIMEOUT_MS = 30_000;

/** Tracks when each publish (by sequence number) reached subscribers. */
class Arrivals {
  readonly count: Int32Array;
  readonly first: Float64Array;
  readonly last: Float64Array;
  #subscribers: number;
  #waiting = new Map<number, () => void>();

  constructor(publishes: number, subscribers: number) {
    this.count = new Int32Array(publishes);
    this.first = new Float64Array(publishes);
    this.last = new Float64Array(publishes);
    this.#subscribers = subscribers;
  }

  arrived(seq: number, now: number): void {
    if (seq < 0 || seq >= this.count.length) return;
    if (this.count[seq]++ === 0) this.first[seq] = now;
    this.last[seq] = now;
    if (this.count[seq] === this.#subscribers) {
      this.#waiting.get(seq)?.();
      this.#waiting.delete(seq);
    }
  }

  /** Resolves when every subscriber has `seq`, or after the time limit. */
  async all(seq: number): Promise<void> {
    if (this.count[seq] >= this.#subscribers) return;
    const done = new Promise<void>((r) => this.#waiting.set(seq, r));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      done,
      new Promise<void>((r) => timer = setTimeout(r, TIMEOUT_MS)),
    ]);
    clearTimeout(timer);
    this.#waiting.delete(seq);
  }
}

/** Reads a subscriber's frames: the first is the ack, the rest updates. */
async function subscriberLoop(
  conn: Deno.Conn,
  arrivals: Arrivals,
  acked: () => void,
  stopped: () => boolean,
): Promise<void> {
  try {
    await readUpdates(conn, acked, (seq, at) => arrivals.arrived(seq, at));
  } catch (err) {
    if (!stopped()) throw err;
  }
}

function publishFrame(seq: number): Uint8Array {
  const data = new Uint8Array(PAYLOAD);
  new DataView(data.buffer).setUint32(PAYLOAD - 4, seq, true);
  return sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: seq + 1,
      requestType: RequestType.REQUEST,
      pathOneof: { case: "pathHash", value: fnv1a(PUBLISH) },
      data,
    }),
  );
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function measure(
  target: Target,
  subscribers: number,
  rounds: number,
  burst: number,
  bursts: number,
): Promise<FanoutResult> {
  const publishes = rounds + burst * bursts;
  const arrivals = new Arrivals(publishes, subscribers);
  const subscribe = sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: SUB_ID,
      requestType: RequestType.SUBSCRIBE,
      pathOneof: { case: "pathHash", value: fnv1a(UPDATES) },
    }),
  );
  const conns = await connectMany(target, subscribers);
  let stopped = false;
  let acks = 0;
  const allAcked = Promise.withResolvers<void>();
  const loops = conns.map((conn) =>
    subscriberLoop(conn, arrivals, () => {
      if (++acks === subscribers) allAcked.resolve();
    }, () => stopped)
  );
  for (const conn of conns) await writeAll(conn, subscribe);
  await allAcked.promise;

  const [publisher] = await connectMany(target, 1);
  // Drain the publisher's responses; nothing to check in them.
  const drain = (async () => {
    const sink = new Uint8Array(65536);
    try {
      while (await publisher.read(sink) !== null) { /* discard */ }
    } catch { /* closed at the end */ }
  })();

  const firsts: number[] = [];
  const lasts: number[] = [];
  const roundServer0 = target.cpuSeconds();
  const roundSelf0 = cpuSeconds("self");
  for (let seq = 0; seq < rounds; seq++) {
    const t0 = performance.now();
    await writeAll(publisher, publishFrame(seq));
    await arrivals.all(seq);
    firsts.push(arrivals.first[seq] - t0);
    lasts.push(arrivals.last[seq] - t0);
    await sleep(20);
  }
  const roundServer = target.cpuSeconds() - roundServer0;
  const roundSelf = cpuSeconds("self") - roundSelf0;

  const server0 = target.cpuSeconds();
  const self0 = cpuSeconds("self");
  const busy0 = machineBusySeconds();
  let busyTime = 0;
  const rates: number[] = [];
  for (let b = 0; b < bursts; b++) {
    const base = rounds + b * burst;
    const frames = Array.from(
      { length: burst },
      (_, i) => publishFrame(base + i),
    );
    const batch = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, f) => (batch.set(f, at), at + f.length), 0);
    const t0 = performance.now();
    await writeAll(publisher, batch);
    for (let i = 0; i < burst; i++) await arrivals.all(base + i);
    let end = t0;
    for (let i = 0; i < burst; i++) {
      end = Math.max(end, arrivals.last[base + i]);
    }
    busyTime += (end - t0) / 1000;
    rates.push(subscribers * burst / ((end - t0) / 1000));
    await sleep(100);
  }
  const server = target.cpuSeconds() - server0;
  const self = cpuSeconds("self") - self0;
  const busy = machineBusySeconds() - busy0;
  // CPU shares over the bursts only (the pauses between them excluded).
  const seconds = busyTime || 1;
  let missing = 0;
  for (let s = 0; s < publishes; s++) {
    missing += subscribers - arrivals.count[s];
  }

  stopped = true;
  closeAll([publisher, ...conns]);
  await Promise.allSettled([drain, ...loops]);
  return {
    target: target.name,
    subscribers,
    rounds,
    first_update_p50_ms: round3(percentile(firsts, 0.5)),
    last_update_p50_ms: round3(percentile(lasts, 0.5)),
    last_update_max_ms: round3(Math.max(...lasts)),
    server_cpu_ms_per_publish: round3(roundServer / rounds * 1000),
    loadgen_cpu_ms_per_publish: round3(roundSelf / rounds * 1000),
    burst,
    bursts,
    updates_per_second: Math.round(percentile(rates, 0.5)),
    missing,
    server_cpu_percent: Math.round(server / seconds * 100),
    loadgen_cpu_percent: Math.round(self / seconds * 100),
    other_cpu_percent: Math.max(
      0,
      Math.round((busy - server - self) / seconds * 100),
    ),
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The results as a markdown table. */
export function fanoutTable(results: FanoutResult[]): string {
  return markdownTable(
    [
      "target",
      "subscribers",
      "first update p50 ms",
      "last update p50 ms",
      "last update max ms",
      "server CPU ms / publish",
      "loadgen CPU ms / publish",
      "burst",
      "updates/s",
      "missing",
      "server CPU %",
      "loadgen CPU %",
      "other CPU %",
    ],
    results.map((r) => [
      r.target,
      r.subscribers.toLocaleString("en-US"),
      fmt(r.first_update_p50_ms, 3),
      fmt(r.last_update_p50_ms, 3),
      fmt(r.last_update_max_ms, 3),
      fmt(r.server_cpu_ms_per_publish, 1),
      fmt(r.loadgen_cpu_ms_per_publish, 1),
      `${r.bursts} × ${r.burst}`,
      r.updates_per_second.toLocaleString("en-US"),
      String(r.missing),
      String(r.server_cpu_percent),
      String(r.loadgen_cpu_percent),
      String(r.other_cpu_percent),
    ]),
  );
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      subscribers: { type: "string", default: "10000" },
      rounds: { type: "string", default: "20" },
      burst: { type: "string", default: "50" },
      bursts: { type: "string", default: "3" },
      targets: {
        type: "string",
        default: "nanorpc-wasm,nanorpc-protobuf-es,raw-broadcast",
      },
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
  const subscribers = smoke ? 1000 : Number(values.subscribers);
  const rounds = smoke ? 3 : Number(values.rounds);
  const burst = smoke ? 10 : Number(values.burst);
  const bursts = smoke ? 1 : Number(values.bursts);
  const wanted = values.targets.split(",").map((s) => s.trim());
  const out = values.out !== undefined
    ? fromCwd(values.out)
    : (smoke ? "results/smoke/fanout.json" : "results/fanout.json");
  console.log(machineNote());
  console.log(
    `fan-out: ${subscribers} subscribers on ${UPDATES}, ${rounds} single ` +
      `publishes, ${bursts} bursts of ${burst}; ${PAYLOAD} B updates`,
  );
  const results: FanoutResult[] = [];
  const specs = [...TARGETS, RAW_BROADCAST].filter((t) =>
    t.script !== "raw_echo.ts" && wanted.includes(t.name)
  );
  for (const spec of specs) {
    const target = await startTarget(spec, { denoFlags: profileFlags });
    try {
      if (!smoke) await waitQuiet(Number(values.quiet));
      const r = await measure(target, subscribers, rounds, burst, bursts);
      results.push(r);
      console.log(
        `${r.target}: last subscriber after ${
          fmt(r.last_update_p50_ms, 3)
        } ms (p50), ${r.updates_per_second.toLocaleString("en-US")} ` +
          `updates/s in bursts, ${r.missing} missing, CPU server ` +
          `${r.server_cpu_percent}% loadgen ${r.loadgen_cpu_percent}% ` +
          `other ${r.other_cpu_percent}%`,
      );
    } finally {
      await target.stop();
    }
  }
  console.log();
  console.log(fanoutTable(results));
  console.log();
  await writeResults(out, results);
  if (results.some((r) => r.missing > 0)) Deno.exitCode = 1;
}

if (import.meta.main) await main(Deno.args);
