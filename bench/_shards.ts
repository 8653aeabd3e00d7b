// Runs load-generator shards (bench/_load_worker.ts) in Workers against a
// target and merges what they measured, with the CPU each side used over
// the measuring window and the server's RSS before the load and at its
// peak. Internal to bench/.

import {
  cpuSeconds,
  Histogram,
  machineBusySeconds,
  sleep,
  type Target,
} from "./_harness.ts";
import {
  SHARD_SIZE,
  type ShardCommand,
  type ShardEvent,
  type ShardReport,
  type ShardTask,
} from "./_load_worker.ts";
import { rssBytes, RssWindow } from "./_rss.ts";

/** What all shards measured together. */
export interface ShardTotals {
  /** Sum over shards of responses per second in their window. */
  perSecond: number;
  completed: number;
  errors: number;
  skipped: number;
  latency: Histogram;
  lag: Histogram;
  /** CPU use over the window, in percent of one core. */
  serverCpu: number;
  selfCpu: number;
  otherCpu: number;
  /** Server CPU seconds over the window. */
  serverSeconds: number;
  /**
   * Server RSS in bytes with every connection open and answered one PING,
   * before any load; NaN when the server's process is not known.
   */
  serverRssIdle: number;
  /** Peak server RSS in bytes over the measured window, or NaN. */
  serverRssPeak: number;
}

/** Splits `n` connections into shards of at most SHARD_SIZE, evenly. */
export function shardSizes(n: number): number[] {
  const shards = Math.ceil(n / SHARD_SIZE);
  return Array.from(
    { length: shards },
    (_, i) => Math.floor(n / shards) + (i < n % shards ? 1 : 0),
  );
}

class Shard {
  #worker = new Worker(new URL("./_load_worker.ts", import.meta.url).href, {
    type: "module",
  });
  #events: (ShardEvent | Error)[] = [];
  #waiting?: () => void;

  constructor() {
    this.#worker.onmessage = (e: MessageEvent<ShardEvent>) => {
      this.#events.push(e.data);
      this.#waiting?.();
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#events.push(new Error(`load shard failed: ${e.message}`));
      this.#waiting?.();
    };
  }

  send(command: ShardCommand): void {
    this.#worker.postMessage(command);
  }

  /** The next event (queued ones first); throws on a failure or after `ms`. */
  async next(ms: number): Promise<ShardEvent> {
    const deadline = performance.now() + ms;
    while (this.#events.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error("load shard did not answer");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiting = undefined;
    }
    const event = this.#events.shift()!;
    if (event instanceof Error) throw event;
    if (event.type === "failed") {
      throw new Error(`load shard failed: ${event.message}`);
    }
    return event;
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

/**
 * Starts one shard per task, waits until all are connected, lets them run
 * `warmup` seconds, measures `duration` seconds, stops them and merges.
 */
export async function runShards(
  target: Target,
  tasks: ShardTask[],
  warmup: number,
  duration: number,
): Promise<ShardTotals> {
  const shards = tasks.map(() => new Shard());
  try {
    tasks.forEach((task, i) => shards[i].send({ type: "start", task }));
    for (const shard of shards) await shard.next(120_000);
    const serverRssIdle = rssBytes(target.pid);
    for (const shard of shards) shard.send({ type: "load" });
    await sleep(warmup * 1000);
    const rss = new RssWindow(target.pid);
    const server0 = target.cpuSeconds();
    const self0 = cpuSeconds("self");
    const busy0 = machineBusySeconds();
    const t0 = performance.now();
    for (const shard of shards) shard.send({ type: "measure" });
    await sleep(duration * 1000);
    for (const shard of shards) shard.send({ type: "stop" });
    const seconds = (performance.now() - t0) / 1000;
    const serverRssPeak = rss.end();
    const server = target.cpuSeconds() - server0;
    const self = cpuSeconds("self") - self0;
    const busy = machineBusySeconds() - busy0;
    const reports: ShardReport[] = [];
    for (const shard of shards) {
      const event = await shard.next(30_000);
      if (event.type === "done") reports.push(event.report);
    }
    const latency = new Histogram();
    const lag = new Histogram();
    let perSecond = 0;
    let completed = 0;
    let errors = 0;
    let skipped = 0;
    for (const r of reports) {
      latency.merge(r.latency);
      lag.merge(r.lag);
      perSecond += r.completed / (r.seconds || seconds);
      completed += r.completed;
      errors += r.errors;
      skipped += r.skipped;
    }
    return {
      perSecond,
      completed,
      errors,
      skipped,
      latency,
      lag,
      serverCpu: server / seconds * 100,
      selfCpu: self / seconds * 100,
      // Without the server's process its CPU is unknown and left in here.
      otherCpu: Math.max(
        0,
        (busy - (Number.isNaN(server) ? 0 : server) - self) / seconds * 100,
      ),
      serverSeconds: server,
      serverRssIdle,
      serverRssPeak,
    };
  } finally {
    for (const shard of shards) shard.terminate();
  }
}
