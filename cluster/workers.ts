/**
 * `--workers N` in the library: N Deno Workers, each an event loop with its
 * own server, all listening on the same TCP ports (`SO_REUSEPORT`, Linux;
 * the kernel spreads connections over them; Deno needs `--unstable-net`).
 * Topics, groups and uids are shared between the workers through a
 * `BroadcastChannelBroker`, or through NATS when `nats` is given (then the
 * workers are nodes of the cluster, forwarding to each other and to other
 * processes).
 *
 * @module
 */

import { newStats, type ServerStats } from "../server/stats.ts";
import { drainWindow } from "../server/_drain.ts";
import { timerFor } from "../server/_timer.ts";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { mergeMetrics } from "./_metrics_merge.ts";
import type { DrainRequest, FromWorker, ToWorker } from "./_pool_messages.ts";
import type {
  WorkersDrainOptions,
  WorkersOptions,
  WorkersQueryOptions,
  WorkersStats,
} from "./workers_options.ts";

/**
 * A pool of workers serving the same ports.
 *
 * @example
 * ```ts ignore
 * import { Workers } from "@nanorpc/nanorpc/cluster";
 *
 * // app.ts: export default (ctx) => { const s = new Server(ctx.options);
 * //   s.handle("/echo", (c) => c.data); await ctx.listen(s, { port: 7411 }); return s; }
 * await using pool = await Workers.start({
 *   count: 2,
 *   module: new URL("./app.ts", import.meta.url),
 * });
 * console.log(pool.urls, await pool.stats());
 * ```
 */
export class Workers implements AsyncDisposable {
  /** URLs of worker 0's listeners (the others listen on the same ports). */
  readonly urls: readonly string[];
  #workers: Worker[];
  #nextId = 1;
  #stopping?: Promise<WorkersStats>;
  /** Answers awaited, by worker: stats by request id, and the stop's. */
  #awaited = new Map<Worker, Map<number | "stop", Settle>>();
  #dead = new Set<Worker>();
  readonly #stopTimeout: number;
  /** Each worker's last metrics, standing in when it is slow to answer. */
  readonly #lastMetrics = new Map<Worker, string>();

  private constructor(
    workers: Worker[],
    urls: string[],
    options: WorkersOptions,
    ended: ReadonlyMap<number, string>,
  ) {
    const onExit = options.onWorkerExit;
    this.#stopTimeout = options.stopTimeout ?? 30_000;
    this.#workers = workers;
    this.urls = urls;
    // Started: each answer goes to what asked for it (by id, or the stop),
    // and a worker that dies settles what waited for it.
    workers.forEach((worker, index) => {
      const awaited = new Map<number | "stop", Settle>();
      this.#awaited.set(worker, awaited);
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "exited") return died("exited (Deno.exit or close)");
        if (m.type === "pool-metrics") {
          // Worker 0's /metrics asks for every worker's.
          this.metrics().then((text) => ({ text }), (err) => ({
            text: "",
            error: err instanceof Error ? err.message : String(err),
          })).then((answer) => {
            if (this.#dead.has(worker)) return;
            worker.postMessage(
              { type: "pool-metrics", id: m.id, ...answer } satisfies ToWorker,
            );
          });
          return;
        }
        let key: number | "stop";
        let answer: unknown;
        if (m.type === "stats") [key, answer] = [m.id, m.stats];
        else if (m.type === "metrics") [key, answer] = [m.id, m.text];
        else if (m.type === "drained") {
          [key, answer] = [m.id, m.stats];
          if (m.error !== undefined) {
            console.error(
              `nanorpc Workers: worker ${index} failed to drain: ${m.error}`,
            );
          }
        } else if (m.type === "stopped") [key, answer] = ["stop", m.stats];
        else return;
        awaited.get(key)?.(answer);
        awaited.delete(key);
      };
      const died = (why: string) => {
        if (this.#dead.has(worker)) return;
        console.error(`nanorpc Workers: worker ${index} ${why}`);
        this.#dead.add(worker);
        for (const settle of awaited.values()) settle(undefined);
        awaited.clear();
        onExit?.(index, why);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        died(`died: ${e.message}`);
      };
      const why = ended.get(index);
      if (why !== undefined) died(why);
    });
  }

  /**
   * Starts `options.count` workers; resolves once each listens. Worker 0
   * starts first, so that the ports it picked for port 0 are the others'.
   *
   * @param options How many workers, their module, and the limits.
   * @returns The pool, every worker listening.
   * @throws {RangeError} When `count` is not a positive integer.
   * @throws {Error} When a worker fails to start (the others are stopped).
   *
   * @example
   * ```ts ignore
   * const pool = await Workers.start({ count: 2, module: "./app.ts" });
   * console.log(`${pool.count} workers on ${pool.urls.join(", ")}`);
   * ```
   */
  static async start(options: WorkersOptions): Promise<Workers> {
    const count = options.count;
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Workers: count must be a positive integer, not ${count}`,
      );
    }
    // The workers import it from _pool_worker.ts: a path must not resolve
    // against that file's URL. (A one-letter scheme is a Windows drive.)
    const module = typeof options.module === "string" &&
        !/^[a-z][a-z0-9+.-]+:/i.test(options.module)
      ? pathToFileURL(resolve(options.module)).href
      : String(options.module);
    const channel = `nanorpc-${crypto.randomUUID()}`;
    const workers: Worker[] = [];
    let ports: number[] = [];
    let urls: string[] = [];
    // A worker that dies while the next ones start fails the start: the
    // pool would otherwise wait for it forever.
    const failed = Promise.withResolvers<never>();
    /** Workers that ended during the start, and how. */
    const early = new Map<number, string>();
    try {
      for (let index = 0; index < count; index++) {
        const worker = new Worker(
          new URL("./_pool_worker.ts", import.meta.url),
          { type: "module" },
        );
        workers.push(worker);
        const waiting: ((m: FromWorker) => void)[] = [];
        // An end is also kept for the pool: Deno may deliver it before
        // start() has taken the last worker's "ready" and returned.
        worker.onmessage = (e: MessageEvent<FromWorker>) => {
          if (e.data.type === "exited") {
            early.set(index, "exited (Deno.exit or close)");
            const why = `Worker ${index} exited while the pool started`;
            return failed.reject(new Error(why));
          }
          if (e.data.type === "pool-metrics") {
            // Worker 0 serves --http before the others have started.
            return worker.postMessage(
              {
                type: "pool-metrics",
                id: e.data.id,
                text: "",
                error: "the pool is still starting",
              } satisfies ToWorker,
            );
          }
          waiting.shift()?.(e.data);
        };
        worker.onerror = (e) => {
          e.preventDefault();
          early.set(index, `died: ${e.message}`);
          failed.reject(new Error(`Worker ${index} failed: ${e.message}`));
        };
        const ready = new Promise<FromWorker>((resolve) =>
          waiting.push(resolve)
        );
        worker.postMessage(
          {
            type: "start",
            index,
            count,
            module,
            data: options.data,
            nats: options.nats,
            channel,
            ports,
          } satisfies ToWorker,
        );
        let timer: ReturnType<typeof setTimeout> | undefined;
        const answer = await Promise.race([
          ready,
          failed.promise,
          new Promise<never>((_, reject) =>
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `Worker ${index} did not start within ${
                      options.startTimeout ?? 30_000
                    } ms`,
                  ),
                ),
              options.startTimeout ?? 30_000,
            )
          ),
        ]).finally(() => clearTimeout(timer));
        if (answer.type === "failed") {
          throw new Error(`Worker ${index} failed to start: ${answer.message}`);
        }
        if (answer.type !== "ready") {
          throw new Error(`Worker ${index} said ${answer.type} while starting`);
        }
        if (index === 0) {
          ports = answer.ports;
          urls = answer.urls;
        }
      }
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    return new Workers(workers, urls, options, early);
  }

  /** How many workers run. */
  get count(): number {
    return this.#workers.length;
  }

  /**
   * The counters of every live worker, summed. A worker that has not
   * answered within `options.timeout` is left out (`workers` says how many
   * are in), so a wedged one cannot stall the caller.
   *
   * @param options How long to wait.
   * @returns The sum, and how many workers are in it.
   *
   * @example
   * ```ts ignore
   * const { workers, sessions } = await pool.stats({ timeout: 1000 });
   * ```
   */
  async stats(options: WorkersQueryOptions = {}): Promise<WorkersStats> {
    const timeout = options.timeout ?? 5000;
    return sum(
      await Promise.all(this.#workers.map((w) => {
        const id = this.#nextId++;
        return this.#ask<ServerStats>(w, { type: "stats", id }, id, timeout);
      })),
    );
  }

  /**
   * The metrics of every live worker in the Prometheus text format, merged
   * into one exposition: each series summed over the workers (requests,
   * sessions, bytes, histograms), except what they share (the process's
   * resident memory and the cluster's node count: once; a link's
   * `_connected`: 1 only if every worker's is), and `nanorpc_workers`, how
   * many workers are in the sum. A worker that has not answered within
   * `options.timeout` cannot stall a scrape: its last answer stands in for
   * it (so the summed counters never go down, which Prometheus would read
   * as a reset), or it is left out if it never answered; a dead worker is
   * left out.
   *
   * @param options How long to wait.
   * @returns The exposition.
   *
   * @example
   * ```ts ignore
   * import { metricsHandler } from "@nanorpc/nanorpc/server";
   *
   * Deno.serve({ port: 9464 }, metricsHandler({ metrics: () => pool.metrics() }));
   * ```
   */
  async metrics(options: WorkersQueryOptions = {}): Promise<string> {
    const timeout = options.timeout ?? 5000;
    const texts = await Promise.all(this.#workers.map(async (w) => {
      const id = this.#nextId++;
      const text = await this.#ask<string>(
        w,
        { type: "metrics", id },
        id,
        timeout,
      );
      if (text !== undefined) this.#lastMetrics.set(w, text);
      return this.#dead.has(w) ? undefined : this.#lastMetrics.get(w);
    }));
    return mergeMetrics(texts.filter((t) => t !== undefined));
  }

  /**
   * Drains every worker's server at once, as `server.drain(options)`
   * drains one (see `DrainOptions`): by default each stops accepting,
   * then closes its own sessions spread over `options.window` ms, so
   * that clients reconnect elsewhere without a herd. Resolves when every
   * worker has drained, with their counters then, summed
   * (`drainCloses`: the sessions moved off; `workers`: how many drained);
   * call {@link shutdown} after. A worker that dies or ends meanwhile, or
   * has not drained within `options.timeout`, is left out, so none can
   * hold the drain.
   *
   * Like a second `server.drain()`, a second call while one runs drains
   * again, over its own window, the sessions still open; each resolves
   * when its own pass ends. Once {@link shutdown} has begun, it drains
   * nothing and resolves when the shutdown has closed every session, with
   * no worker in the sum (`workers: 0`); a shutdown begun during a drain
   * ends it early: it resolves with each worker's counters as its drain
   * ended (the shutdown closes the rest, not counted in `drainCloses`).
   * Aborting `options.signal` stops every worker's
   * drain: sessions not yet closed stay.
   *
   * @param options The window, and the rest of `server.drain()`'s options.
   * @returns The workers' counters once drained, summed.
   * @throws {RangeError} When the window, `settleTimeout` or `timeout` is
   * not a number of milliseconds >= 0 (the window also finite); nothing
   * is drained then.
   *
   * @example
   * ```ts ignore
   * // Deploying: move every worker's sessions off over 30 s, then stop.
   * const { drainCloses } = await pool.drain({ window: 30_000 });
   * console.log(`${drainCloses} sessions moved off`);
   * await pool.shutdown();
   * ```
   */
  async drain(options: WorkersDrainOptions = {}): Promise<WorkersStats> {
    const window = drainWindow(options); // A bad window changes nothing.
    const timeout = options.timeout ??
      window + (options.settleTimeout ?? 1000) + 5000;
    if (typeof timeout !== "number" || !(timeout >= 0)) {
      throw new RangeError(
        `timeout must be a number of milliseconds >= 0, got ${String(timeout)}`,
      );
    }
    if (this.#stopping) {
      await this.#stopping;
      return sum([]);
    }
    const id = this.#nextId++;
    const request: DrainRequest = {
      window,
      stopAccepting: options.stopAccepting,
      settleTimeout: options.settleTimeout,
    };
    const { signal } = options;
    const aborted = signal?.aborted ?? false;
    const answers = this.#workers.map((w, index) =>
      this.#ask<ServerStats>(
        w,
        { type: "drain", id, options: request, aborted },
        id,
        timeout,
        () =>
          console.error(
            `nanorpc Workers: worker ${index} did not drain within ${timeout} ms; leaving it out`,
          ),
      )
    );
    const abort = () => {
      for (const w of this.#workers) {
        if (!this.#dead.has(w)) {
          w.postMessage({ type: "drain-abort", id } satisfies ToWorker);
        }
      }
    };
    if (!aborted) signal?.addEventListener("abort", abort, { once: true });
    try {
      return sum(await Promise.all(answers));
    } finally {
      signal?.removeEventListener("abort", abort);
    }
  }

  /**
   * Stops every worker gracefully (each shuts its server down, then its
   * links) and resolves with their final counters, summed. A worker that
   * has not stopped within `stopTimeout` is terminated, and left out.
   *
   * @returns The workers' final counters, summed.
   *
   * @example
   * ```ts ignore
   * const { workers, sessionsOpened } = await pool.shutdown();
   * console.log(`${workers} workers served ${sessionsOpened} sessions`);
   * ```
   */
  shutdown(): Promise<WorkersStats> {
    return this.#stopping ??= (async () => {
      const all = await Promise.all(
        this.#workers.map((w, index) =>
          this.#ask<ServerStats>(
            w,
            { type: "stop" },
            "stop",
            this.#stopTimeout,
            () =>
              console.error(
                `nanorpc Workers: worker ${index} did not stop within ${this.#stopTimeout} ms; terminating it`,
              ),
          )
        ),
      );
      for (const w of this.#workers) {
        w.terminate();
        this.#dead.add(w);
        // A stats() asked meanwhile gets no answer from a stopped worker.
        const awaited = this.#awaited.get(w)!;
        for (const settle of awaited.values()) settle(undefined);
        awaited.clear();
      }
      return sum(all);
    })();
  }

  /** Same as {@link shutdown}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /**
   * Sends `message` to `worker` and waits for its answer to `key`, at
   * most `timeout` ms (then `late` runs); undefined if none came.
   */
  #ask<T>(
    worker: Worker,
    message: ToWorker,
    key: number | "stop",
    timeout: number,
    late?: () => void,
  ): Promise<T | undefined> {
    const answer = this.#await<T>(worker, key);
    if (this.#dead.has(worker)) return answer;
    worker.postMessage(message);
    let timer: ReturnType<typeof setTimeout> | undefined;
    // (no timer for Infinity, or 2^31 ms and more: setTimeout would fire
    // at once)
    const gone = new Promise<undefined>((resolve) =>
      timer = timerFor(() => {
        this.#awaited.get(worker)?.delete(key);
        late?.();
        resolve(undefined);
      }, timeout)
    );
    return Promise.race([answer, gone]).finally(() => clearTimeout(timer));
  }

  /** The answer `worker` gives to `key`; undefined if it is dead. */
  #await<T>(worker: Worker, key: number | "stop"): Promise<T | undefined> {
    if (this.#dead.has(worker)) return Promise.resolve(undefined);
    return new Promise((resolve) =>
      this.#awaited.get(worker)!.set(key, resolve as Settle)
    );
  }
}

/**
 * Settles an awaited answer with what the worker sent (counters, metrics
 * text), or undefined when it died.
 */
type Settle = (answer: unknown) => void;

/** The counters in `list`, summed (zero for none, not undefined). */
function sum(list: (ServerStats | undefined)[]): WorkersStats {
  const total: Record<string, number> = { ...newStats(), workers: 0 };
  for (const stats of list) {
    if (!stats) continue;
    total.workers++;
    for (const [key, value] of Object.entries(stats)) {
      if (typeof value === "number") total[key] = (total[key] ?? 0) + value;
    }
  }
  return total as unknown as WorkersStats;
}
