/**
 * Test kit: a worker module for `Workers.start` (cluster/workers.ts): each
 * worker serves `/echo`, `/whoami` (its index) and `/busy` (holds its
 * event loop for the ms its data says) and listens where the
 * pool's data says; with `fail` set, worker 1 throws while starting, with
 * `crash` set it dies of an uncaught error just after, with `exit` set it
 * says it ends itself just after (what the pool worker says on `Deno.exit`
 * or `close()`) but goes on running; with `crashFirst` set,
 * worker 0 dies just after starting and worker 1 never finishes starting.
 *
 * @module
 */

import { Server } from "../server/mod.ts";
import type { WorkerContext } from "../cluster/workers.ts";

/** What the test passes as the pool's data. */
export interface WorkerAppData {
  /** Where to listen (UNIX sockets: worker 0 only). */
  path: string;
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
  await ctx.listen(server, { path: data.path });
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
