/**
 * Where the server's memory churn comes from: bytes allocated per request,
 * by the function that allocated them, for `/echo` served in-process as
 * bench/loop.ts serves it (an in-memory stream, 1 and 16 requests per
 * read), beside the raw loop. V8's sampling heap profiler (through
 * `node:inspector`) records an allocation every `--interval` bytes on
 * average, with its stack, including what the next collection frees.
 *
 * ```sh
 * deno run -A bench/alloc.ts
 * deno run -A bench/alloc.ts --reads 50000 --top 8
 * ```
 *
 * These bytes are what fills the young generation between collections, so
 * they set how soon V8 grows it (bench/README.md, "Why our peak RSS is
 * higher"). Flags: `--reads` at 16 requests per read (default 100,000; ten
 * times as many at 1), `--interval` bytes between samples (default 32),
 * `--top` functions listed per row (default 5), `--out FILE` (default
 * results/alloc.json).
 *
 * @module
 */

import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { requestFrames } from "./_frames.ts";
import { fmt, markdownTable, writeResults } from "./_harness.ts";
import { newServer, rawOnce, serveOnce } from "./loop.ts";

/** One row of results/alloc.json. */
export interface AllocResult {
  target: string;
  /** Requests per read. */
  pipeline: number;
  /** Bytes allocated per request, sampled. */
  bytes_per_request: number;
  /** The functions that allocated most: bytes per request each. */
  top: { fn: string; bytes_per_request: number }[];
}

/** What {@link measureAlloc} measures with. */
export interface AllocOptions {
  /** Reads at 16 requests per read (ten times as many at 1). */
  reads: number;
  /** Mean bytes between two samples. */
  interval: number;
  /** Functions listed per row. */
  top: number;
}

interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

/** Bytes allocated by each function (its own allocations) in `head`. */
function bySelf(head: SampledNode): Map<string, number> {
  const sums = new Map<string, number>();
  const walk = (node: SampledNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.slice(url.lastIndexOf("/") + 1);
    const name = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    if (node.selfSize > 0) {
      sums.set(name, (sums.get(name) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(head);
  return sums;
}

/**
 * Serves `/echo` in-process with the sampling heap profiler on, at 1 and
 * 16 requests per read, for the server (metrics on) and the raw loop.
 *
 * @example
 * ```ts ignore
 * const rows = await measureAlloc({ reads: 1000, interval: 32, top: 5 });
 * ```
 */
export async function measureAlloc(
  options: AllocOptions,
): Promise<AllocResult[]> {
  const server = newServer(true);
  const session = new Session();
  session.connect();
  const results: AllocResult[] = [];
  try {
    for (const pipeline of [1, 16]) {
      const reads = options.reads * (pipeline === 1 ? 10 : 1);
      const requests = reads * pipeline;
      const { frames } = requestFrames(
        "/echo",
        new Uint8Array(32).map((_, i) => i),
        "hash",
        pipeline,
        pipeline,
      );
      const targets: [string, () => Promise<unknown>][] = [
        ["nanorpc-wasm", () => serveOnce(server, frames, reads, requests)],
        ["raw loop", () => rawOnce(frames, reads, requests)],
      ];
      for (const [target, run] of targets) {
        await run(); // Warm: compiled code, grown buffers.
        await session.post("HeapProfiler.startSampling", {
          samplingInterval: options.interval,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        await run();
        const { profile } = await session.post(
          "HeapProfiler.stopSampling",
        ) as { profile: { head: SampledNode } };
        const sums = [...bySelf(profile.head)].sort((a, b) => b[1] - a[1]);
        const total = sums.reduce((sum, [, bytes]) => sum + bytes, 0);
        results.push({
          target,
          pipeline,
          bytes_per_request: total / requests,
          top: sums.slice(0, options.top).map(([fn, bytes]) => ({
            fn,
            bytes_per_request: bytes / requests,
          })),
        });
      }
    }
  } finally {
    session.disconnect();
  }
  return results;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      reads: { type: "string", default: "100000" },
      interval: { type: "string", default: "32" },
      top: { type: "string", default: "5" },
      out: { type: "string", default: "results/alloc.json" },
    },
  });
  const results = await measureAlloc({
    reads: Number(values.reads),
    interval: Number(values.interval),
    top: Number(values.top),
  });
  console.log(markdownTable(
    [
      "target",
      "requests per read",
      "B/request",
      "most allocated by (B/request)",
    ],
    results.map((r) => [
      r.target,
      String(r.pipeline),
      fmt(r.bytes_per_request, 1),
      r.top.map((t) => `${t.fn} ${fmt(t.bytes_per_request, 1)}`).join("; "),
    ]),
  ));
  await writeResults(values.out, results);
}

if (import.meta.main) await main(Deno.args);
