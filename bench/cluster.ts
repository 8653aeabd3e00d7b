/**
 * The cluster benchmarks, in one run (each server a `deno task server`
 * process, a real nats-server where one is needed):
 *
 * 1. workers: `/echo` closed-loop load at 1,000 connections against one
 *    event loop, `--workers 2`, and raw echo (bench/load.ts);
 * 2. fan-out: one publish to 10,000 subscribers on one node, on two nodes
 *    that both declare the topic (the broker carries the publish), and on
 *    two nodes of which only one declares it (the other node's 5,000
 *    subscriptions are held by it and their updates batched to their
 *    home);
 * 3. forwarding: `/echo` p50/p99 on the node serving it and through a node
 *    that forwards it (bench/load.ts, 1 and 100 connections).
 *
 * ```sh
 * deno run -A bench/cluster.ts
 * deno run -A bench/cluster.ts --smoke
 * ```
 *
 * Flags: `--duration SECONDS` per load row (default 3), `--repeat N`
 * (workers rows measured N times, interleaved, median reported; default
 * 3), `--subscribers`
 * (default 10000), `--rounds` single publishes (default 20), `--only
 * workers|fanout|forward` (comma list), `--smoke` (1 s rows, 1,000
 * subscribers, 5 rounds; results under results/smoke/). Results:
 * results/cluster-workers.json, results/cluster-fanout.json,
 * results/cluster-forward.json.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { parseArgs } from "node:util";
import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
import { fnv1a, RequestType } from "../wasm/wire.ts";
import { type ServerProcess, spawnServer } from "../cluster/_testing.ts";
import { startNatsServer } from "../testing/nats.ts";
import {
  closeAll,
  connectMany,
  cpuSeconds,
  fmt,
  machineNote,
  markdownTable,
  sleep,
  waitQuiet,
  writeAll,
  writeResults,
} from "./_harness.ts";
import { readUpdates } from "./_frames.ts";
import { PUBLISH, UPDATES } from "./serve.ts";

const BENCH = new URL(".", import.meta.url).pathname;
const NODE_MODULE = `${BENCH}_cluster_node.ts`;
const TIMEOUT_MS = 30_000;

/** One fan-out layout's figures, as written to results/cluster-fanout.json. */
export interface ClusterFanoutResult {
  layout: string;
  nodes: number;
  subscribers: number;
  rounds: number;
  /** Publish request written to the first subscriber having it, median. */
  first_update_p50_ms: number;
  /** To the last subscriber having it, median over rounds. */
  last_update_p50_ms: number;
  last_update_max_ms: number;
  /** CPU of every server process per publish, in ms. */
  servers_cpu_ms_per_publish: number;
  /** Updates that never arrived. */
  missing: number;
}

function url(p: ServerProcess): string {
  return `tcp://${p.addr.hostname}:${p.addr.port}?pid=${p.child.pid}`;
}

/** Runs bench/load.ts against `targets` (NAME=URL) and returns its rows. */
async function load(
  targets: string[],
  spawn: string,
  args: string[],
  out: string,
): Promise<unknown[]> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${BENCH}load.ts`,
      "--targets",
      spawn,
      ...targets.flatMap((t) => ["--target", t]),
      ...args,
      "--out",
      out,
    ],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await command.output();
  if (code !== 0) throw new Error(`bench/load.ts failed (exit ${code})`);
  return JSON.parse(await Deno.readTextFile(out));
}

async function workers(
  duration: number,
  repeat: number,
  outDir: string,
): Promise<void> {
  console.log("\n## --workers 2 vs one event loop, 1,000 connections");
  await using one = await spawnServer(["--tcp", "127.0.0.1:0"]);
  await using two = await spawnServer([
    "--workers",
    "2",
    "--tcp",
    "127.0.0.1:0",
  ]);
  await two.waitFor(/2 workers listening/);
  await load(
    [`workers-1=${url(one)}`, `workers-2=${url(two)}`],
    "raw-echo",
    [
      "--connections",
      "1000",
      "--duration",
      String(duration),
      "--repeat",
      String(repeat),
    ],
    `${outDir}/cluster-workers.json`,
  );
}

async function forward(duration: number, outDir: string): Promise<void> {
  console.log("\n## /echo on its node vs forwarded through another node");
  await using nats = await startNatsServer();
  const cluster = ["--nats", nats.url, "--tcp", "127.0.0.1:0"];
  await using echo = await spawnServer([...cluster, "--demo", "echo"]);
  await using front = await spawnServer([...cluster, "--demo", "none"]);
  await load(
    [`local=${url(echo)}`, `forwarded=${url(front)}`],
    "none",
    ["--connections", "1,100", "--duration", String(duration)],
    `${outDir}/cluster-forward.json`,
  );
}

function frame(type: number, path: string, id: number, data?: Uint8Array) {
  return sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: id,
      requestType: type,
      pathOneof: { case: "pathHash", value: fnv1a(path) },
      data,
    }),
  );
}

/**
 * Subscribes `conns` and counts, per publish (numbered by its last 4
 * bytes), how many arrived and when the first and last did.
 */
function watch(conns: Deno.Conn[], rounds: number) {
  const count = new Int32Array(rounds);
  const first = new Float64Array(rounds);
  const last = new Float64Array(rounds);
  let acks = 0;
  const acked = Promise.withResolvers<void>();
  const loops = conns.map(async (conn) => {
    try {
      await readUpdates(conn, () => {
        if (++acks === conns.length) acked.resolve();
      }, (seq, at) => {
        if (seq < 0 || seq >= rounds) return;
        if (count[seq]++ === 0) first[seq] = at;
        last[seq] = at;
      });
    } catch { /* closed at the end */ }
  });
  return { count, first, last, acked: acked.promise, loops };
}

async function fanoutLayout(
  layout: string,
  nodes: ServerProcess[],
  subscribers: number,
  rounds: number,
): Promise<ClusterFanoutResult> {
  const per = Math.ceil(subscribers / nodes.length);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = Math.min(per, subscribers - conns.length);
    conns.push(...await connectMany(nodes[i].addr, n));
  }
  const seen = watch(conns, rounds);
  const subscribe = frame(RequestType.SUBSCRIBE, UPDATES, 1);
  for (const conn of conns) await writeAll(conn, subscribe);
  await seen.acked;
  const [publisher] = await connectMany(nodes[0].addr, 1);
  const drain = (async () => {
    const sink = new Uint8Array(65536);
    try {
      while (await publisher.read(sink) !== null) { /* answers */ }
    } catch { /* closed */ }
  })();
  const cpu = () => nodes.reduce((s, n) => s + cpuSeconds(n.child.pid), 0);
  const firsts: number[] = [];
  const lasts: number[] = [];
  const cpu0 = cpu();
  for (let seq = 0; seq < rounds; seq++) {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setUint32(12, seq, true);
    const t0 = performance.now();
    await writeAll(
      publisher,
      frame(RequestType.REQUEST, PUBLISH, seq + 1, data),
    );
    const deadline = t0 + TIMEOUT_MS;
    while (seen.count[seq] < subscribers && performance.now() < deadline) {
      await sleep(1);
    }
    firsts.push(seen.first[seq] - t0);
    lasts.push(seen.last[seq] - t0);
    await sleep(20);
  }
  const used = cpu() - cpu0;
  let missing = 0;
  for (let s = 0; s < rounds; s++) missing += subscribers - seen.count[s];
  closeAll([publisher, ...conns]);
  await Promise.allSettled([drain, ...seen.loops]);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const r3 = (n: number) => Math.round(n * 1000) / 1000;
  return {
    layout,
    nodes: nodes.length,
    subscribers,
    rounds,
    first_update_p50_ms: r3(median(firsts)),
    last_update_p50_ms: r3(median(lasts)),
    last_update_max_ms: r3(Math.max(...lasts)),
    servers_cpu_ms_per_publish: r3(used / rounds * 1000),
    missing,
  };
}

async function fanout(
  subscribers: number,
  rounds: number,
  outDir: string,
  smoke: boolean,
): Promise<void> {
  console.log(`\n## one publish to ${subscribers} subscribers`);
  const results: ClusterFanoutResult[] = [];
  const node = ["--tcp", "127.0.0.1:0", "--demo", "none"];
  const withTopic = [...node, "--module", NODE_MODULE];
  {
    await using one = await spawnServer(withTopic);
    if (!smoke) await waitQuiet();
    results.push(await fanoutLayout("one node", [one], subscribers, rounds));
  }
  await using nats = await startNatsServer();
  for (const declared of ["both", "one"] as const) {
    const joined = [...withTopic, "--nats", nats.url];
    await using a = await spawnServer(joined);
    await using b = await spawnServer(
      declared === "both" ? joined : [...node, "--nats", nats.url],
    );
    if (!smoke) await waitQuiet();
    const layout = declared === "both"
      ? "two nodes, topic on both (broker)"
      : "two nodes, topic on one (held subscriptions)";
    results.push(await fanoutLayout(layout, [a, b], subscribers, rounds));
  }
  console.log(markdownTable(
    [
      "layout",
      "first update p50 ms",
      "last update p50 ms",
      "max ms",
      "server CPU ms/publish",
      "missing",
    ],
    results.map((r) => [
      r.layout,
      fmt(r.first_update_p50_ms),
      fmt(r.last_update_p50_ms),
      fmt(r.last_update_max_ms),
      fmt(r.servers_cpu_ms_per_publish),
      String(r.missing),
    ]),
  ));
  await writeResults(`${outDir}/cluster-fanout.json`, results);
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "3" },
      subscribers: { type: "string", default: "10000" },
      rounds: { type: "string", default: "20" },
      only: { type: "string", default: "workers,fanout,forward" },
      repeat: { type: "string", default: "3" },
      smoke: { type: "boolean", default: false },
    },
  });
  const smoke = values.smoke;
  const outDir = `${BENCH}results${smoke ? "/smoke" : ""}`;
  await Deno.mkdir(outDir, { recursive: true });
  const duration = smoke ? 1 : Number(values.duration);
  const only = values.only.split(",");
  console.log(machineNote());
  if (only.includes("workers")) {
    await workers(duration, smoke ? 1 : Number(values.repeat), outDir);
  }
  if (only.includes("fanout")) {
    await fanout(
      smoke ? 1000 : Number(values.subscribers),
      smoke ? 5 : Number(values.rounds),
      outDir,
      smoke,
    );
  }
  if (only.includes("forward")) await forward(duration, outDir);
}

if (import.meta.main) await main(Deno.args);
