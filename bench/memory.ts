/**
 * Memory per idle connection and per subscription, measured inside the
 * server process. The server (bench/serve.ts, started with
 * `--v8-flags=--expose-gc`) answers `/bench/memory` with
 * `Deno.memoryUsage()` after two full `gc()` calls; this process opens the
 * connections and subscriptions from outside and asks before and after.
 *
 * ```sh
 * deno run -A bench/memory.ts
 * deno run -A bench/memory.ts --smoke
 * ```
 *
 * - idle connections: `--connections` (default 10,000) connected, nothing
 *   sent; (after − before) / count.
 * - subscriptions: `--sub-connections` (default 1,000) connected first
 *   (the baseline), then `--subs-per-connection` (default 100) SUBSCRIBEs
 *   each to one topic, all acknowledged; (after − baseline) / count, so
 *   the connections themselves are not counted.
 *
 * `heapUsed` is the V8 heap (the bar: at most 150 bytes per
 * subscription); `external` holds ArrayBuffer backing stores such as each
 * session's read buffer; `rss` is the whole process. Writes
 * results/memory.json (or results/smoke/memory.json with `--smoke`: 1,000
 * connections, 100 × 100 subscriptions).
 *
 * `--cycles N` repeats both measurements N times on the same server: a
 * "heap left after close" that keeps growing from cycle to cycle would be a
 * leak, one that stays put is capacity and code V8 keeps.
 *
 * `--heap-snapshots` also has the server write V8 heap snapshots (through
 * `node:v8`) at each measuring point and prints which kinds of heap node
 * make up the cost per connection and per subscription.
 *
 * @module
 */

import { create, fromBinary } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { parseArgs } from "node:util";
import {
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { fnv1a, RequestType } from "../wasm/wire.ts";
import {
  closeAll,
  connectMany,
  fmt,
  fromCwd,
  machineNote,
  markdownTable,
  sleep,
  splitFrames,
  startTarget,
  type Target,
  TARGETS,
  writeAll,
  writeResults,
} from "./_harness.ts";
import { MEMORY, type MemoryReport, UPDATES } from "./serve.ts";
import {
  type HeapDelta,
  heapDiff,
  type HeapGroup,
  heapGroups,
  heapTable,
} from "./_heap.ts";

/** One measured quantity, as written to results/memory.json. */
export interface MemoryResult {
  target: string;
  /** "idle connection" or "subscription". */
  what: string;
  count: number;
  heap_bytes_each: number;
  external_bytes_each: number;
  rss_bytes_each: number;
  /** Heap after the connections closed, minus before they opened. */
  heap_left_after_close_bytes: number;
  /** With `--heap-snapshots`: the heap node kinds that grew, per unit. */
  heap_breakdown?: HeapDelta[];
}

/** Asks the server for its memory over one control connection. */
class Control {
  #conn: Deno.Conn;
  #id = 1;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async report(snapshot = ""): Promise<MemoryReport> {
    const id = this.#id++;
    await writeAll(
      this.#conn,
      sizeDelimitedEncode(
        NanoRPCRequestSchema,
        create(NanoRPCRequestSchema, {
          requestId: id,
          requestType: RequestType.REQUEST,
          pathOneof: { case: "pathHash", value: fnv1a(MEMORY) },
          data: new TextEncoder().encode(snapshot),
        }),
      ),
    );
    let buf = new Uint8Array(0);
    for (;;) {
      const chunk = new Uint8Array(4096);
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("server closed the control connection");
      const all = new Uint8Array(buf.length + n);
      all.set(buf);
      all.set(chunk.subarray(0, n), buf.length);
      buf = all;
      let frame: Uint8Array | undefined;
      let start = 0;
      splitFrames(buf, buf.length, (_id, end) => {
        frame ??= buf.subarray(start, end);
        start = end;
      });
      if (!frame) continue;
      let at = 0;
      while (frame[at] & 0x80) at++;
      const msg = fromBinary(NanoRPCResponseSchema, frame.subarray(at + 1));
      if (msg.requestId !== id) throw new Error("unexpected control reply");
      return JSON.parse(new TextDecoder().decode(msg.data));
    }
  }

  /** Polls until the server counts `sessions` (and `subscriptions`). */
  async until(sessions: number, subscriptions = 0): Promise<MemoryReport> {
    const deadline = performance.now() + 60_000;
    for (;;) {
      const m = await this.report();
      if (m.sessions === sessions && m.subscriptions === subscriptions) {
        return m;
      }
      if (performance.now() > deadline) {
        throw new Error(
          `server has ${m.sessions} sessions and ${m.subscriptions} ` +
            `subscriptions, waited for ${sessions} and ${subscriptions}`,
        );
      }
      await sleep(200);
    }
  }
}

/**
 * Settles, then reports (two readings, the lower heap wins); with a
 * snapshot name, also has the server write that heap snapshot.
 */
async function steady(
  control: Control,
  sessions: number,
  subs: number,
  snapshot: string | undefined,
): Promise<MemoryReport & { groups?: Map<string, HeapGroup> }> {
  await control.until(sessions, subs);
  await sleep(300);
  const a = await control.report();
  const b = await control.report();
  const best = a.heapUsed <= b.heapUsed ? a : b;
  if (!snapshot) return best;
  const path = (await control.report(snapshot)).snapshot;
  if (!path) throw new Error("the server wrote no heap snapshot");
  const groups = await heapGroups(path);
  await Deno.remove(path);
  return { ...best, groups };
}

function breakdown(
  before: { groups?: Map<string, HeapGroup> },
  after: { groups?: Map<string, HeapGroup> },
  units: number,
): HeapDelta[] | undefined {
  return before.groups && after.groups
    ? heapDiff(before.groups, after.groups, units)
    : undefined;
}

async function idleConnections(
  target: Target,
  control: Control,
  count: number,
  snapshots: boolean,
): Promise<MemoryResult> {
  const before = await steady(control, 1, 0, snapshots ? "idle-0" : "");
  const conns = await connectMany(target, count);
  const after = await steady(control, 1 + count, 0, snapshots ? "idle-1" : "");
  closeAll(conns);
  const closed = await steady(control, 1, 0, "");
  return {
    target: target.name,
    what: "idle connection",
    count,
    heap_bytes_each: Math.round((after.heapUsed - before.heapUsed) / count),
    external_bytes_each: Math.round((after.external - before.external) / count),
    rss_bytes_each: Math.round((after.rss - before.rss) / count),
    heap_left_after_close_bytes: closed.heapUsed - before.heapUsed,
    heap_breakdown: breakdown(before, after, count),
  };
}

async function subscriptions(
  target: Target,
  control: Control,
  connections: number,
  perConnection: number,
  snapshots: boolean,
): Promise<MemoryResult> {
  const start = await steady(control, 1, 0, "");
  const conns = await connectMany(target, connections);
  const baseline = await steady(
    control,
    1 + connections,
    0,
    snapshots ? "subs-0" : "",
  );
  const frames = Array.from(
    { length: perConnection },
    (_, i) =>
      sizeDelimitedEncode(
        NanoRPCRequestSchema,
        create(NanoRPCRequestSchema, {
          requestId: i + 1,
          requestType: RequestType.SUBSCRIBE,
          pathOneof: { case: "pathHash", value: fnv1a(UPDATES) },
        }),
      ),
  );
  const batch = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (batch.set(f, at), at + f.length), 0);
  await Promise.all(conns.map(async (conn) => {
    await writeAll(conn, batch);
    const buf = new Uint8Array(65536);
    let filled = 0;
    let acks = 0;
    while (acks < perConnection) {
      const n = await conn.read(buf.subarray(filled));
      if (n === null) throw new Error("server closed a subscriber");
      filled += n;
      const end = splitFrames(buf, filled, () => acks++);
      buf.copyWithin(0, end, filled);
      filled -= end;
    }
  }));
  const total = connections * perConnection;
  const after = await steady(
    control,
    1 + connections,
    total,
    snapshots ? "subs-1" : "",
  );
  closeAll(conns);
  const closed = await steady(control, 1, 0, "");
  return {
    target: target.name,
    what: "subscription",
    count: total,
    heap_bytes_each: Math.round((after.heapUsed - baseline.heapUsed) / total),
    external_bytes_each: Math.round(
      (after.external - baseline.external) / total,
    ),
    rss_bytes_each: Math.round((after.rss - baseline.rss) / total),
    heap_left_after_close_bytes: closed.heapUsed - start.heapUsed,
    heap_breakdown: breakdown(baseline, after, total),
  };
}

/** The results as a markdown table. */
export function memoryTable(results: MemoryResult[]): string {
  return markdownTable(
    [
      "target",
      "what",
      "count",
      "heap B each",
      "external B each",
      "RSS B each",
      "heap left after close",
    ],
    results.map((r) => [
      r.target,
      r.what,
      r.count.toLocaleString("en-US"),
      String(r.heap_bytes_each),
      String(r.external_bytes_each),
      String(r.rss_bytes_each),
      `${fmt(r.heap_left_after_close_bytes / 1024, 1)} KiB`,
    ]),
  );
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      connections: { type: "string", default: "10000" },
      "sub-connections": { type: "string", default: "1000" },
      "subs-per-connection": { type: "string", default: "100" },
      targets: { type: "string", default: "nanorpc-wasm" },
      "heap-snapshots": { type: "boolean", default: false },
      cycles: { type: "string", default: "1" },
      out: { type: "string" },
      smoke: { type: "boolean", default: false },
    },
  });
  const smoke = values.smoke;
  const idle = smoke ? 1000 : Number(values.connections);
  const subConns = smoke ? 100 : Number(values["sub-connections"]);
  const perConn = smoke ? 100 : Number(values["subs-per-connection"]);
  const wanted = values.targets.split(",").map((s) => s.trim());
  const out = values.out !== undefined
    ? fromCwd(values.out)
    : (smoke ? "results/smoke/memory.json" : "results/memory.json");
  console.log(machineNote());
  console.log(
    `memory: ${idle} idle connections; ${subConns} connections × ` +
      `${perConn} subscriptions; measured in the server after gc()`,
  );
  const snapshots = values["heap-snapshots"];
  const cycles = smoke ? 1 : Number(values.cycles);
  const dir = snapshots
    ? await Deno.makeTempDir({ prefix: "nanorpc-heap-" })
    : undefined;
  const results: MemoryResult[] = [];
  const specs = TARGETS.filter((t) =>
    t.script === "serve.ts" && wanted.includes(t.name)
  );
  for (const spec of specs) {
    const args = dir ? [...spec.args, "--heap-snapshots", dir] : spec.args;
    const target = await startTarget({ ...spec, args }, {
      denoFlags: ["--v8-flags=--expose-gc"],
    });
    const [conn] = await connectMany(target, 1);
    try {
      const control = new Control(conn);
      if (!(await control.report()).gc) {
        throw new Error("the server has no gc(): start it with --expose-gc");
      }
      for (let cycle = 0; cycle < cycles; cycle++) {
        const shots = snapshots && cycle === 0;
        results.push(await idleConnections(target, control, idle, shots));
        results.push(
          await subscriptions(target, control, subConns, perConn, shots),
        );
      }
    } finally {
      closeAll([conn]);
      await target.stop();
    }
  }
  console.log();
  console.log(memoryTable(results));
  console.log();
  for (const r of results) {
    if (!r.heap_breakdown) continue;
    console.log(`${r.target}, heap per ${r.what} by heap node:\n`);
    console.log(heapTable(r.heap_breakdown, r.what));
    console.log();
  }
  if (dir) await Deno.remove(dir, { recursive: true });
  for (const r of results.filter((r) => r.what === "subscription")) {
    console.log(
      `${r.target}: ${r.heap_bytes_each} B of heap per subscription ` +
        `(bar: ≤ 150 B) — ${r.heap_bytes_each <= 150 ? "met" : "MISSED"}`,
    );
  }
  await writeResults(out, results);
}

if (import.meta.main) await main(Deno.args);
