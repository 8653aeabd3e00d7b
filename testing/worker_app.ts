/**
 * Test kit: a worker module for `Workers.start` (cluster/workers.ts): each
 * worker serves `/echo`, `/whoami` (its index), `/busy` (holds its
 * event loop for the ms its data says) and `/crash` (never answers; the
 * worker dies of an uncaught error after the ms its data says) and listens
 * where the pool's data says (with `ownSockets`, each worker on a UNIX
 * socket of its own); with `fail` set, worker 1 throws while starting, with
 * `crash` set it dies of an uncaught error just after, with `exit` set it
 * says it ends itself just after (what the pool worker says on `Deno.exit`
 * or `close()`) but goes on running; with `crashFirst` set,
 * worker 0 dies just after starting and worker 1 never finishes starting.
 *
 * @module
 */

import { Server } from "../server/mod.ts";
import type { WorkerContext } from "../cluster/workers_options.ts";

/** What the test passes as the pool's data. */
export interface WorkerAppData {
  /** Where to listen (UNIX sockets: worker 0 only). */
  path: string;
  /** Each worker listens on `${path}.${index}` instead, its own socket. */
  ownSockets?: boolean;
  /** Make worker 1 fail to start. */
  fail?: boolean;
  /** Make worker 1 die of an uncaught error once it has started. */
  crash?: boolean;
  /**
   * Make worker 1 say it ended itself once it has started (and go on, so
   * that the test does not depend on that message outliving its worker).
   */
  exit?: boolean;
  /** Make worker 0 die once started, while worker 1 hangs starting. */
  crashFirst?: boolean;
  /**
   * Worker 0 asks for the pool's metrics while it starts; `/early`
   * answers how that went. Worker 1 takes 300 ms to start.
   */
  earlyMetrics?: boolean;
}

/** Builds one worker's server. */
export default async function workerApp(ctx: WorkerContext): Promise<Server> {
  const data = ctx.data as WorkerAppData;
  if (data.fail && ctx.index === 1) throw new Error("worker 1 refuses");
  if (data.crashFirst && ctx.index === 1) await new Promise(() => {});
  if (data.earlyMetrics && ctx.index === 1) {
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const early = data.earlyMetrics && ctx.index === 0
    ? ctx.metrics().then(() => "answered", (err) => (err as Error).message)
    : undefined;
  const server = new Server({ ...ctx.options, logLevel: "error" });
  server.handle("/early", async () => (await early) ?? "not asked");
  server.handle("/echo", (c) => c.data);
  server.handle("/whoami", () => String(ctx.index));
  // Holds the worker's event loop for as many ms as the data says.
  server.handle("/busy", (c) => {
    const until = performance.now() + Number(new TextDecoder().decode(c.data));
    while (performance.now() < until) { /* busy */ }
    return c.data;
  });
  server.handle("/crash", (c) => {
    const ms = Number(new TextDecoder().decode(c.data));
    setTimeout(() => {
      throw new Error(`worker ${ctx.index} crashes`);
    }, ms);
    return new Promise<never>(() => {});
  });
  if (data.ownSockets) {
    await server.listen({ path: `${data.path}.${ctx.index}` });
  } else await ctx.listen(server, { path: data.path });
  if (data.crash && ctx.index === 1) {
    setTimeout(() => {
      throw new Error("worker 1 crashes");
    }, 0);
  }
  if (data.crashFirst && ctx.index === 0) {
    setTimeout(() => {
      throw new Error("worker 0 crashes");
    }, 0);
  }
  if (data.exit && ctx.index === 1) {
    const self = globalThis as unknown as { postMessage(m: unknown): void };
    setTimeout(() => self.postMessage({ type: "exited" }), 0);
  }
  return server;
}
