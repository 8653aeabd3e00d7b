/**
 * The NanoRPC server the benchmarks measure: `/echo` (the demo's echo
 * handler, the app raw_echo.ts is the floor of) plus a topic for fan-out,
 * with either frame codec; `--demo all` adds the demo's chat room.
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/serve.ts --codec wasm --tcp 127.0.0.1:0
 * ```
 *
 * Flags: `--codec wasm|protobuf-es` (default wasm), `--tcp HOST:PORT`
 * (default 127.0.0.1:0), `--http HOST:PORT` (also serve the WebSocket
 * endpoint there), `--log-level` (default warn), `--ops on|off` (off:
 * no request metrics, no tracing; default on), `--demo echo|all` (all:
 * also the chat room, a protobuf service, which loads protobuf-es: about
 * 13 MiB more RSS; default echo), `--conn-read conn|op` (op: sockets
 * read through the op underneath `Deno.Conn.read`, reached through Deno's
 * internals, to measure what its per-read `Set` costs; see
 * bench/conn_read_old_space.ts; default conn), `--io deno|node` (node:
 * the TCP listener is `node:net`'s, each socket served through
 * `nodeSocketStream`; default deno). Prints `listening on
 * tcp://HOST:PORT` once bound (then `listening on ws://HOST:PORT/nanorpc`
 * with `--http`); SIGINT and SIGTERM shut it
 * down gracefully and exit.
 *
 * Benchmark routes besides the demo:
 * - topic {@link UPDATES}, and `/bench/publish`, which publishes its
 *   request data to that topic and answers with nothing;
 * - `/bench/memory`, which runs `gc()` (when started with
 *   `--v8-flags=--expose-gc`) and answers `Deno.memoryUsage()` plus the
 *   server's counters as JSON, measured inside this process. Started with
 *   `--heap-snapshots DIR`, a request whose data is a name (letters,
 *   digits, `-`) also writes a V8 heap snapshot `DIR/NAME.heapsnapshot`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connReadFlag } from "./_conn_read_op.ts";
import { writeHeapSnapshot } from "node:v8";
import type { LogLevel } from "../server/logger.ts";
import type { InternalServerOptions } from "../server/_core.ts";
import { Server } from "../server/server.ts";
import type { RequestCodec } from "../server/_core.ts";

/** Topic the fan-out benchmark subscribes to. */
export const UPDATES = "/bench/updates";
/** Handler that publishes its data to {@link UPDATES}. */
export const PUBLISH = "/bench/publish";
/** Handler that answers the process's memory usage as JSON. */
export const MEMORY = "/bench/memory";

/** What {@link MEMORY} answers. */
export interface MemoryReport {
  /** Where the heap snapshot was written, if one was asked for. */
  snapshot?: string;
  /** Whether `gc()` ran before measuring. */
  gc: boolean;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  sessions: number;
  subscriptions: number;
}

/** Options of {@link benchServer}. */
export interface BenchServerOptions {
  /**
   * The frame codec: undefined for the server's own (WASM), or another
   * (`new ProtobufEsCodec()` from pb_codec.ts).
   */
  codec?: RequestCodec;
  logLevel: LogLevel;
  /** Directory `/bench/memory` may write heap snapshots to. */
  heapSnapshots?: string;
  /**
   * `"off"`: no request metrics and no tracing, to measure what they
   * cost. Default: the server's defaults (metrics on; tracing when a
   * tracer provider is registered, e.g. under `OTEL_DENO=true`).
   */
  ops?: "on" | "off";
}

/** Builds the benchmark server. */
export function benchServer(options: BenchServerOptions): Server {
  const serverOptions: InternalServerOptions = {
    codec: options.codec,
    logLevel: options.logLevel,
    maxSessions: 1_000_000,
    ...(options.ops === "off" ? { metrics: false, tracing: false } : {}),
  };
  const server = new Server(serverOptions);
  // The demo's echo handler; the rest of the demo only with --demo all.
  server.handle("/echo", (ctx) => ctx.data);
  server.topic(UPDATES);
  server.handle(PUBLISH, (ctx) => {
    server.publish(UPDATES, ctx.data);
  });
  server.handle(MEMORY, (ctx) => {
    const name = new TextDecoder().decode(ctx.data);
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      gc();
    }
    // Measure first: writing a snapshot allocates.
    const m = Deno.memoryUsage();
    const s = server.stats();
    let snapshot: string | undefined;
    if (name && options.heapSnapshots && /^[\w-]+$/.test(name)) {
      snapshot = writeHeapSnapshot(
        `${options.heapSnapshots}/${name}.heapsnapshot`,
      );
    }
    const report: MemoryReport = {
      snapshot,
      gc: gc !== undefined,
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      sessions: s.sessions,
      subscriptions: s.subscriptions,
    };
    return JSON.stringify(report);
  });
  return server;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      codec: { type: "string", default: "wasm" },
      tcp: { type: "string", default: "127.0.0.1:0" },
      http: { type: "string" },
      "log-level": { type: "string", default: "warn" },
      "heap-snapshots": { type: "string" },
      ops: { type: "string", default: "on" },
      demo: { type: "string", default: "echo" },
      "conn-read": { type: "string", default: "conn" },
      io: { type: "string", default: "deno" },
    },
  });
  if (values.io !== "deno" && values.io !== "node") {
    throw new Error(`--io must be deno or node, got ${values.io}`);
  }
  const codecName = values.codec;
  if (codecName !== "wasm" && codecName !== "protobuf-es") {
    throw new Error(`--codec must be wasm or protobuf-es, got ${codecName}`);
  }
  if (values.demo !== "echo" && values.demo !== "all") {
    throw new Error(`--demo must be echo or all, got ${values.demo}`);
  }
  if (values.ops !== "on" && values.ops !== "off") {
    throw new Error(`--ops must be on or off, got ${values.ops}`);
  }
  await connReadFlag(values["conn-read"]);

  const server = benchServer({
    // Loaded only when asked for: it brings protobuf-es.
    codec: codecName === "protobuf-es"
      ? new (await import("./pb_codec.ts")).ProtobufEsCodec()
      : undefined,
    logLevel: values["log-level"] as LogLevel,
    heapSnapshots: values["heap-snapshots"],
    ops: values.ops,
  });
  if (values.demo === "all") {
    const { registerDemo } = await import("../server/demo.ts");
    registerDemo(server, "room");
  }
  const at = values.tcp.lastIndexOf(":");
  const hostname = values.tcp.slice(0, at) || "127.0.0.1";
  const port = Number(values.tcp.slice(at + 1));
  if (values.io === "node") {
    console.log(`listening on ${await listenNode(server, hostname, port)}`);
  } else {
    const listener = await server.listen({ hostname, port });
    console.log(`listening on ${listener.url}`);
  }
  if (values.http !== undefined) {
    const at = values.http.lastIndexOf(":");
    const http = await server.listen({
      http: {
        hostname: values.http.slice(0, at) || "127.0.0.1",
        port: Number(values.http.slice(at + 1)),
      },
    });
    console.log(`listening on ${http.url.replace(/^http/, "ws")}/nanorpc`);
  }
  const stopped = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", stopped.resolve);
  Deno.addSignalListener("SIGTERM", stopped.resolve);
  await stopped.promise;
  await server.shutdown();
  Deno.exit(0);
}

/** Serves `server`'s sessions on a `node:net` listener; resolves its URL. */
async function listenNode(
  server: Server,
  hostname: string,
  port: number,
): Promise<string> {
  const { createServer } = await import("node:net");
  const { nodeSocketStream } = await import("../transport/node_socket.ts");
  const net = createServer((socket) => {
    server.serve(nodeSocketStream(socket)).catch(() => {});
  });
  await new Promise<void>((resolve, reject) => {
    net.once("error", reject);
    net.listen(port, hostname, () => {
      net.off("error", reject);
      resolve();
    });
  });
  const addr = net.address() as { address: string; port: number };
  return `tcp://${
    addr.address.includes(":") ? `[${addr.address}]` : addr.address
  }:${addr.port}`;
}

if (import.meta.main) await main(Deno.args);
