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
import type { WorkerContext } from "./workers.ts";

/** Drops `--serial X` / `--serial=X` from `args`. */
function withoutSerial(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--serial") i++;
    else if (!args[i].startsWith("--serial=")) out.push(args[i]);
  }
  return out;
}

/** Runs the command line in this worker; resolves once it listens. */
export default function cliWorker(ctx: WorkerContext): Promise<Server> {
  const { args } = ctx.data as { args: string[] };
  const started = Promise.withResolvers<Server>();
  main(ctx.index === 0 ? args : withoutSerial(args), {
    options: ctx.options,
    listen: ctx.listen,
    stopped: ctx.stopping,
    noSignals: true,
    httpFallback,
    started: started.resolve,
    report: () => {},
  }).catch(started.reject);
  return started.promise;
}
