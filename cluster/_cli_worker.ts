/**
 * The worker module of `deno task server --workers N`: each worker runs
 * the server's command line with the pool's broker (and forwarder) and
 * listens the pool's way. Only worker 0 serves `--serial` lines.
 *
 * @module
 */

import { main } from "../server/main.ts";
import { httpFallback } from "./main.ts";
import type { Server } from "../server/server.ts";
import type { WorkerContext } from "./workers_options.ts";

/** Drops `--serial X` / `--serial=X` from `args`. */
function withoutSerial(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--serial") i++;
    else if (!args[i].startsWith("--serial=")) out.push(args[i]);
  }
  return out;
}

/** Whether `args` name a listener (else the server listens on its default). */
function hasListener(args: readonly string[]): boolean {
  return args.some((a) => /^--(tcp|unix|http)(=|$)/.test(a));
}

/** Runs the command line in this worker; resolves once it listens. */
export default function cliWorker(ctx: WorkerContext): Promise<Server> {
  const { args } = ctx.data as { args: string[] };
  const rest = ctx.index === 0 ? args : withoutSerial(args);
  // With only --serial lines, the other workers listen nowhere (not on the
  // default TCP port the server takes when given no flag at all).
  const nowhere = rest.length < args.length && !hasListener(rest);
  const started = Promise.withResolvers<Server>();
  main(rest, {
    options: ctx.options,
    listen: nowhere ? () => Promise.resolve(undefined) : ctx.listen,
    stopped: ctx.stopping,
    noSignals: true,
    // Worker 0 serves --http, and /metrics there is the whole pool's.
    metrics: { metrics: ctx.metrics },
    httpFallback,
    started: started.resolve,
    report: () => {},
  }).catch(started.reject);
  return started.promise;
}
