/**
 * `deno task bench:load`: closed-loop `/echo` load against each target
 * server in the same run: the ones it starts (each in its own process) and
 * any already running one given with `--target`; this load generator runs
 * in another process.
 *
 * ```sh
 * deno task bench:load --duration 5 --connections 1,100,1000 --pipeline 1,16
 * deno task bench:load --smoke
 * deno task bench:load --targets nanorpc-wasm,raw-echo --target go=tcp://127.0.0.1:9000
 * ```
 *
 * Flags: `--duration SECONDS` per measurement (default 5), `--warmup
 * SECONDS` before it (default 1), `--connections` comma list (default
 * 1,100,1000), `--pipeline` comma list of requests in flight per connection
 * (default 1), `--payload BYTES` (default 32), `--path hash|string` (what
 * requests carry; default hash), `--targets` comma list of targets to start
 * (default nanorpc-wasm,nanorpc-protobuf-es,raw-echo,nanorpc-ws,go-reference;
 * `none` for none; nanorpc-ws is nanorpc-wasm over WebSocket; also
 * raw-echo-node, raw-echo's work over `node:net`, and nanorpc-node,
 * nanorpc-wasm over `node:net`), `--target NAME=tcp://HOST:PORT` or `NAME=unix:///PATH`
 * (repeatable: a running NanoRPC server with the demo's `/echo`, measured
 * beside the started ones; append `?pid=PID` to name its process when it
 * is not found by its listening socket, for CPU and RSS figures), `--out
 * FILE` (relative to the working directory; default
 * bench/results/load.json), `--smoke` (1 s per target, connections 1,100,
 * results under results/smoke/), `--repeat N` (measure each configuration
 * N times, targets interleaved; report the median run), `--deno-flags "…"`
 * (extra `deno run` flags for the started targets, e.g.
 * `--v8-flags=--single-threaded-gc`), `--conn-read conn|op` (op: the
 * started targets read their sockets through the op under
 * `Deno.Conn.read`, without its per-read `Set`; see
 * bench/conn_read_old_space.ts; default conn), `--cpu-prof DIR` (run the started
 * targets under `deno run --cpu-prof`; each writes a .cpuprofile into DIR
 * when it stops; read them with bench/profile.ts).
 *
 * Every row records the server's RSS with its connections open before the
 * load (`server_rss_idle_bytes`) and its peak over the measured window
 * (`server_rss_peak_bytes`, from the kernel's VmHWM, which the run resets
 * at the window's start, and samples of VmRSS).
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
  fromCwd,
  GO_REFERENCE,
  machine,
  machineNote,
  type PathForm,
  requestFrames,
  sleep,
  startTarget,
  type Target,
  TARGETS,
  type TargetSpec,
  waitQuiet,
  writeResults,
} from "./_harness.ts";
import { connReadValue } from "./_conn_read_op.ts";
import { externalTarget, parseTarget } from "./_external.ts";
import { goReferenceStatus } from "./_go.ts";
import type { ShardTask } from "./_load_worker.ts";
import {
  known,
  type LoadResult,
  loadTable,
  median,
  round3,
  runLine,
} from "./_load_result.ts";
import { runShards, shardSizes } from "./_shards.ts";

export { type LoadResult, loadTable };

/**
 * The WebSocket target, for this benchmark only: the same server as
 * nanorpc-wasm, driven over `ws://…/nanorpc` by WebSocket load workers.
 */
const NANORPC_WS: TargetSpec = {
  name: "nanorpc-ws",
  script: "serve.ts",
  args: ["--codec", "wasm", "--http", "127.0.0.1:0"],
  websocket: true,
};

/**
 * raw_echo.ts's work over `node:net` instead of `Deno.Conn` (for this
 * benchmark only, and only when named): the other I/O path of the runtime.
 */
const RAW_ECHO_NODE: TargetSpec = {
  name: "raw-echo-node",
  script: "raw_echo_node.ts",
  args: [],
};

/**
 * nanorpc-wasm with its TCP sockets from `node:net` (`bench/serve.ts --io
 * node`), for this benchmark only, and only when named.
 */
const NANORPC_NODE: TargetSpec = {
  name: "nanorpc-node",
  script: "serve.ts",
  args: ["--codec", "wasm", "--io", "node"],
};

/** Every target this benchmark can start, in the order it runs them. */
const SPAWNABLE: readonly TargetSpec[] = [
  ...TARGETS,
  NANORPC_WS,
  NANORPC_NODE,
  RAW_ECHO_NODE,
];

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
    path: target.path,
    websocket: target.websocket,
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
    server_cpu_percent: known(Math.round(t.serverCpu)),
    server_us_per_request: known(
      round3(t.serverSeconds / Math.max(1, t.completed) * 1e6),
    ),
    server_rss_idle_bytes: known(t.serverRssIdle),
    server_rss_peak_bytes: known(t.serverRssPeak),
    loadgen_cpu_percent: Math.round(t.selfCpu),
    other_cpu_percent: Math.round(t.otherCpu),
    errors: t.errors,
    external: target.external,
    url: target.url,
  };
}

/**
 * The spawned targets `--targets` names (`none` or empty for none); throws
 * on a name it does not know.
 */
function spawnedNames(list: string): string[] {
  const known = [...SPAWNABLE.map((t) => t.name), GO_REFERENCE];
  const names = list.split(",").map((s) => s.trim()).filter(
    (s) => s && s !== "none",
  );
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new Error(
      `--targets does not know ${unknown.join(", ")}; it ` +
        `takes ${known.join(", ")} or none (for a running server use ` +
        `--target NAME=tcp://HOST:PORT)`,
    );
  }
  return names;
}

function numbers(list: string, flag: string): number[] {
  const values = list.split(",").map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--${flag} wants positive integers, got ${list}`);
  }
  return values;
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
        default: [...SPAWNABLE.map((t) => t.name), GO_REFERENCE].join(","),
      },
      target: { type: "string", multiple: true },
      out: { type: "string" },
      repeat: { type: "string", default: "1" },
      "cpu-prof": { type: "string" },
      "deno-flags": { type: "string" },
      "conn-read": { type: "string", default: "conn" },
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
  // Checked before anything starts.
  const connRead = connReadValue(values["conn-read"]) === "op"
    ? ["--conn-read", "op"]
    : [];
  const wanted = spawnedNames(values.targets);
  const specs = SPAWNABLE.filter((t) => wanted.includes(t.name));
  const externals = (values.target ?? []).map(parseTarget);
  const names = [...specs.map((t) => t.name), ...externals.map((e) => e.name)];
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    throw new Error(
      `two targets are named ${twice}: give each --target ` +
        `its own name`,
    );
  }
  if (names.length === 0) {
    throw new Error(
      "no target to measure: name some with --targets or " +
        "--target NAME=tcp://HOST:PORT",
    );
  }
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

  // Spawned ones first, then external ones, in the order given; each
  // configuration measures them round-robin, once per repeat.
  const targets: Target[] = [];
  const results: LoadResult[] = [];
  try {
    const profile = values["cpu-prof"];
    const denoFlags = [
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      ...(values["deno-flags"]?.split(" ").filter(Boolean) ?? []),
    ];
    // External servers are checked first: a wrong address fails before
    // anything is started.
    const running: Target[] = [];
    for (const spec of externals) {
      const { target, note } = await externalTarget(spec);
      console.log(`${spec.name}: external at ${spec.url}, ${note}`);
      running.push(target);
    }
    for (const spec of specs) {
      const args = [...spec.args, ...connRead];
      targets.push(await startTarget({ ...spec, args }, { denoFlags }));
    }
    targets.push(...running);
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
