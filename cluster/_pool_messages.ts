// What a Workers pool and its workers (_pool_worker.ts) say to each other.

import type { DrainOptions } from "../server/drain.ts";
import type { ServerStats } from "../server/stats.ts";
import type { WorkersOptions } from "./workers_options.ts";

/** A drain's options as they cross to a worker (a signal cannot). */
export type DrainRequest = Omit<DrainOptions, "signal">;

/** Messages from the pool to a worker. */
export type ToWorker =
  | {
    type: "start";
    index: number;
    count: number;
    module: string;
    data: unknown;
    nats?: WorkersOptions["nats"];
    channel: string;
    ports: number[];
  }
  | { type: "stats"; id: number }
  | { type: "metrics"; id: number }
  | { type: "pool-metrics"; id: number; text: string; error?: string }
  /** With `aborted`: the drain's signal was aborted before it was asked. */
  | { type: "drain"; id: number; options: DrainRequest; aborted: boolean }
  /** The drain's signal aborted: sessions not yet closed stay. */
  | { type: "drain-abort"; id: number }
  | { type: "stop" };

/** Messages from a worker to the pool. */
export type FromWorker =
  | { type: "ready"; urls: string[]; ports: number[] }
  | { type: "stats"; id: number; stats: ServerStats }
  | { type: "metrics"; id: number; text: string }
  | { type: "pool-metrics"; id: number }
  /** Its server's drain ended: its counters then, or why it failed. */
  | { type: "drained"; id: number; stats?: ServerStats; error?: string }
  | { type: "stopped"; stats: ServerStats }
  | { type: "failed"; message: string }
  | { type: "exited" };
