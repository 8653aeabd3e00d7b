/**
 * The server's own CPU per request, without sockets: `/echo` requests
 * served through `server.serve()` over an in-memory byte stream whose reads
 * hand over a ready batch of request frames and whose writes settle at
 * once. What is measured is the server's JavaScript and WebAssembly —
 * decode, dispatch, the handler, metrics, encode, the read loop's promises
 * and the garbage they leave — which `bench:load` cannot separate from the
 * kernel's and the runtime's share. A raw loop (split frames, write them
 * back, bench/raw_echo.ts's work) is measured beside it as the floor.
 *
 * ```sh
 * deno run -A bench/loop.ts
 * deno run -A bench/loop.ts --reads 20000 --repeat 9
 * ```
 *
 * Flags: `--reads` per run for 1 request per read (default 200,000; a
 * tenth of it for 16 per read), `--repeat` runs per row, targets
 * interleaved (default 9; the table shows the fastest and the median),
 * `--out FILE` (default results/loop.json).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { ByteStream } from "../transport/byte_stream.ts";
import { registerDemo } from "../server/demo.ts";
import { Server } from "../server/server.ts";
import { requestFrames } from "./_frames.ts";
import { fmt, markdownTable, writeResults } from "./_harness.ts";
import { completeFrames } from "./raw_echo.ts";

/** One row of results/loop.json. */
export interface LoopResult {
  target: string;
  /** Requests per read. */
  pipeline: number;
  /** Fastest run, microseconds per request. */
  us_per_request_min: number;
  /** Median run, microseconds per request. */
  us_per_request_median: number;
}

/** A stream whose reads return `batch` `reads` times, then end. */
export function batchStream(batch: Uint8Array, reads: number): ByteStream & {
  written: number;
} {
  let left = reads;
  return {
    transport: "stream",
    remoteAddr: { transport: "stream" },
    written: 0,
    read(buffer) {
      if (left-- <= 0) return Promise.resolve(null);
      buffer.set(batch);
      return Promise.resolve(batch.length);
    },
    write(data) {
      this.written += data.length;
      return Promise.resolve();
    },
    close() {},
  };
}

/** Serves one connection of `reads` reads; returns µs per request. */
export async function serveOnce(
  server: Server,
  batch: Uint8Array,
  reads: number,
  requests: number,
): Promise<number> {
  const stream = batchStream(batch, reads);
  const start = performance.now();
  await server.serve(stream);
  const us = (performance.now() - start) * 1000 / requests;
  // Every response is at least 30 bytes: all were answered.
  if (stream.written < requests * 30) {
    throw new Error(`only ${stream.written} bytes were written back`);
  }
  return us;
}

/** raw_echo.ts's loop over the same stream: the floor. */
export async function rawOnce(
  batch: Uint8Array,
  reads: number,
  requests: number,
): Promise<number> {
  const stream = batchStream(batch, reads);
  const buffer = new Uint8Array(65536);
  let filled = 0;
  const start = performance.now();
  for (;;) {
    const n = await stream.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
    const end = completeFrames(buffer, filled);
    if (end <= 0) continue;
    await stream.write(buffer.subarray(0, end));
    buffer.copyWithin(0, end, filled);
    filled -= end;
  }
  return (performance.now() - start) * 1000 / requests;
}

/** Serves `reads` reads of `batch` (`requests` in all); µs per request. */
type Run = (
  batch: Uint8Array,
  reads: number,
  requests: number,
) => Promise<number>;

/** The demo server as the loop serves it (`/echo`), metrics on or off. */
export function newServer(metrics: boolean): Server {
  const server = new Server({ logLevel: "warn", metrics, tracing: false });
  registerDemo(server);
  return server;
}

/** Options of {@link measureLoop}. */
export interface LoopOptions {
  /** Reads per run at 1 request per read (a tenth of it at 16). */
  reads: number;
  /** Runs per row, targets interleaved. */
  repeat: number;
}

/**
 * Serves `/echo` in-process at 1 and 16 requests per read, with metrics
 * on and off, beside the raw loop.
 *
 * @example
 * ```ts ignore
 * const rows = await measureLoop({ reads: 1000, repeat: 3 });
 * ```
 */
export async function measureLoop(
  options: LoopOptions,
): Promise<LoopResult[]> {
  const withMetrics = newServer(true);
  const noMetrics = newServer(false);
  const targets: [string, Run][] = [
    ["nanorpc-wasm", (b, r, n) => serveOnce(withMetrics, b, r, n)],
    ["nanorpc-wasm, metrics off", (b, r, n) => serveOnce(noMetrics, b, r, n)],
    ["raw loop", rawOnce],
  ];
  const results: LoopResult[] = [];
  for (const pipeline of [1, 16]) {
    const reads = Math.max(
      1,
      Math.round(options.reads / (pipeline === 1 ? 1 : 10)),
    );
    const { frames } = requestFrames(
      "/echo",
      new Uint8Array(32).map((_, i) => i),
      "hash",
      pipeline,
      pipeline,
    );
    const runs = targets.map(() => [] as number[]);
    for (let i = 0; i < options.repeat; i++) {
      for (const [k, [, run]] of targets.entries()) {
        runs[k].push(await run(frames, reads, reads * pipeline));
      }
    }
    for (const [k, [target]] of targets.entries()) {
      const sorted = runs[k].sort((a, b) => a - b);
      results.push({
        target,
        pipeline,
        us_per_request_min: sorted[0],
        us_per_request_median: sorted[sorted.length >> 1],
      });
    }
  }
  return results;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      reads: { type: "string", default: "200000" },
      repeat: { type: "string", default: "9" },
      out: { type: "string", default: "results/loop.json" },
    },
  });
  const results = await measureLoop({
    reads: Number(values.reads),
    repeat: Number(values.repeat),
  });
  console.log(markdownTable(
    [
      "target",
      "requests per read",
      "µs/request (fastest)",
      "µs/request (median)",
    ],
    results.map((r) => [
      r.target,
      String(r.pipeline),
      fmt(r.us_per_request_min, 3),
      fmt(r.us_per_request_median, 3),
    ]),
  ));
  await writeResults(values.out, results);
}

if (import.meta.main) await main(Deno.args);
