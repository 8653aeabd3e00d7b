/**
 * `deno task server`: the server's command line (server/main.ts) plus
 * clustering.
 *
 * ```sh
 * nats-server -p 4222 &
 * deno task server --nats nats://127.0.0.1:4222 --demo room --tcp :7411
 * deno task server --nats nats://127.0.0.1:4222 --demo echo --tcp :7412
 * deno task server --workers 4 --tcp 0.0.0.0:7411
 * ```
 *
 * Flags added here: `--nats URL` (repeatable: several servers of one NATS
 * cluster) joins a cluster -- topics, groups and uids are shared, and
 * paths this node does not serve are forwarded to one that does;
 * `--nats-prefix PREFIX` separates clusters sharing a NATS server;
 * `--node-name NAME` names the node in NATS's monitoring; `--workers N`
 * runs N event loops (Deno Workers) on the same ports with `reusePort`
 * (Linux), sharing through NATS when `--nats` is given and through
 * `BroadcastChannel` otherwise. SIGINT and SIGTERM stop every worker
 * gracefully and print their counters, summed (`--stop-timeout MS`, 30,000
 * by default: a worker not stopped by then is terminated); SIGUSR2 drains
 * every worker over `--drain-window MS` first, as it drains a single
 * server, then stops them. A worker that dies stops the others the same
 * way, and the process exits 1. Every other flag is the server's (`--help`
 * lists them).
 *
 * @module
 */

import { connectGateway } from "../gateway/connect.ts";
import { main as serverMain } from "../server/main.ts";
import type { Server } from "../server/server.ts";
import type { ServerStats } from "../server/stats.ts";
import { opsFlags } from "../server/_ops_flags.ts";
import { reportFailure, UsageError } from "../server/_usage.ts";
import { StopSignals } from "../server/_stop_signals.ts";
import { NatsBroker } from "./nats_broker.ts";
import { NatsForwarder } from "./nats_forwarder.ts";
import { Workers } from "./workers.ts";

const USAGE = `cluster flags: [--nats URL]... [--nats-prefix PREFIX]
                [--node-name NAME] [--workers N] [--stop-timeout MS]`;

interface ClusterFlags {
  nats: string[];
  prefix?: string;
  name?: string;
  workers?: number;
  stopTimeout?: number;
  /** `--drain-window` as given: the server's flag, which the pool reads. */
  drainWindow?: string;
}

/** A positive whole number from `value`, or a usage error naming `flag`. */
function positive(flag: string, value: string, unit: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${flag} wants a positive ${unit}, got ${value}`);
  }
  return n;
}

/**
 * Takes this file's flags out of `args`; the rest is the server's.
 *
 * @param args The command line, without the program.
 * @returns The cluster's flags, and the server's arguments.
 * @throws {UsageError} When a flag has no value, or `--workers` or
 * `--stop-timeout` is not a positive whole number.
 *
 * @example
 * ```ts ignore
 * const { flags, rest } = splitArgs(["--workers", "2", "--tcp", ":7411"]);
 * // flags.workers === 2, rest: ["--tcp", ":7411"]
 * ```
 */
export function splitArgs(args: readonly string[]): {
  flags: ClusterFlags;
  rest: string[];
} {
  const flags: ClusterFlags = { nats: [] };
  const rest: string[] = [];
  const own = [
    "--nats",
    "--nats-prefix",
    "--node-name",
    "--workers",
    "--stop-timeout",
  ];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name === "--drain-window") {
      // The server's flag (it checks it), which the pool reads too.
      flags.drainWindow = eq > 0 ? arg.slice(eq + 1) : args[i + 1] ?? "";
    }
    if (!own.includes(name)) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    if (name === "--nats") flags.nats.push(value);
    else if (name === "--nats-prefix") flags.prefix = value;
    else if (name === "--node-name") flags.name = value;
    else if (name === "--workers") {
      flags.workers = positive(name, value, "integer");
    } else {
      flags.stopTimeout = positive(name, value, "whole number of ms");
    }
  }
  return { flags, rest };
}

/**
 * The Connect gateway on every `--http` listener (off: `--no-gateway`).
 *
 * @example
 * ```ts ignore
 * await serverMain(["--http", "127.0.0.1:8080"], { httpFallback });
 * ```
 */
export const httpFallback = (server: Server) => connectGateway(server).fetch;

function summary(s: ServerStats, workers?: number): string {
  return `served ${s.sessionsOpened} sessions, ${s.framesIn} frames in, ${s.framesOut} out, ` +
    `${s.malformedCloses} malformed, ${s.droppedUpdates} updates dropped` +
    (workers === undefined ? "" : ` (${workers} workers)`);
}

async function runWorkers(
  flags: ClusterFlags,
  rest: string[],
): Promise<number> {
  // Signals are answered as a single server's are (server/_stop_signals.ts),
  // from before the pool starts until it has stopped.
  using signals = new StopSignals({
    drainWindow: opsFlags({ "drain-window": flags.drainWindow }).drainWindow,
    subject: "the pool",
  });
  // A worker that dies would leave the process up with fewer workers (and
  // without worker 0's listeners): stop, so a supervisor restarts it all.
  let code = 0;
  const pool = await Workers.start({
    onWorkerExit: () => {
      console.error("stopping the pool: a worker is gone");
      code = 1;
      signals.stop();
    },
    count: flags.workers!,
    module: new URL("./_cli_worker.ts", import.meta.url),
    data: { args: rest },
    nats: flags.nats.length > 0
      ? { servers: flags.nats, prefix: flags.prefix, name: flags.name }
      : undefined,
    stopTimeout: flags.stopTimeout,
  });
  console.log(`${pool.count} workers listening on ${pool.urls.join(", ")}`);
  signals.serve(pool, `${pool.count} workers`);
  await signals.stopped;
  const total = await pool.shutdown();
  console.log(summary(total, total.workers));
  return code;
}

async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    await serverMain(["--help"]);
    console.log(USAGE);
    return 0;
  }
  const { flags, rest } = splitArgs(args);
  if (flags.workers !== undefined && flags.workers > 1) {
    return await runWorkers(flags, rest);
  }
  if (flags.stopTimeout !== undefined) {
    throw new UsageError(
      "--stop-timeout bounds the stop of a pool: give --workers N (2 or more) too",
    );
  }
  if (flags.nats.length === 0) return await serverMain(rest, { httpFallback });
  const link = { servers: flags.nats, prefix: flags.prefix, name: flags.name };
  const broker = await NatsBroker.connect(link);
  const forward = await NatsForwarder.connect(link).catch(async (err) => {
    await broker.close();
    throw err;
  });
  try {
    return await serverMain(rest, {
      options: { broker, forward },
      httpFallback,
    });
  } finally {
    await forward.close();
    await broker.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await run(Deno.args));
  } catch (err) {
    Deno.exit(reportFailure(err, USAGE));
  }
}
