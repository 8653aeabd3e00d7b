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
 * gracefully and print their counters, summed; a worker that dies stops
 * the others the same way, and the process exits 1. Every other flag is the
 * server's (`--help` lists them).
 *
 * @module
 */

import { connectGateway } from "../gateway/connect.ts";
import { main as serverMain } from "../server/main.ts";
import type { Server } from "../server/server.ts";
import type { ServerStats } from "../server/stats.ts";
import { reportFailure, UsageError } from "../server/_usage.ts";
import { NatsBroker } from "./nats_broker.ts";
import { NatsForwarder } from "./nats_forwarder.ts";
import { Workers } from "./workers.ts";

const USAGE = `cluster flags: [--nats URL]... [--nats-prefix PREFIX]
                [--node-name NAME] [--workers N]`;

interface ClusterFlags {
  nats: string[];
  prefix?: string;
  name?: string;
  workers?: number;
}

/** Takes this file's flags out of `args`; the rest is the server's. */
export function splitArgs(args: readonly string[]): {
  flags: ClusterFlags;
  rest: string[];
} {
  const flags: ClusterFlags = { nats: [] };
  const rest: string[] = [];
  const own = ["--nats", "--nats-prefix", "--node-name", "--workers"];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!own.includes(name)) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    if (name === "--nats") flags.nats.push(value);
    else if (name === "--nats-prefix") flags.prefix = value;
    else if (name === "--node-name") flags.name = value;
    else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(
          `--workers wants a positive integer, got ${value}`,
        );
      }
      flags.workers = n;
    }
  }
  return { flags, rest };
}

/** The Connect gateway on every `--http` listener (off: `--no-gateway`). */
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
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  // Draining spreads one server's sessions over a window; a pool has none
  // to drain (SIGUSR2 would otherwise end it without a word).
  const noDrain = () =>
    console.error(
      "SIGUSR2 ignored: --workers cannot drain; stop the pool with SIGTERM",
    );
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGUSR2", noDrain);
  // A worker that dies would leave the process up with fewer workers (and
  // without worker 0's listeners): stop, so a supervisor restarts it all.
  let code = 0;
  const pool = await Workers.start({
    onWorkerExit: () => {
      console.error("stopping the pool: a worker is gone");
      code = 1;
      stop();
    },
    count: flags.workers!,
    module: new URL("./_cli_worker.ts", import.meta.url),
    data: { args: rest },
    nats: flags.nats.length > 0
      ? { servers: flags.nats, prefix: flags.prefix, name: flags.name }
      : undefined,
  });
  console.log(`${pool.count} workers listening on ${pool.urls.join(", ")}`);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGUSR2", noDrain);
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
    if (rest.some((arg) => arg.startsWith("--drain-window"))) {
      throw new UsageError(
        "--drain-window drains a single server on SIGUSR2; a pool of --workers stops on SIGTERM",
      );
    }
    return await runWorkers(flags, rest);
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
