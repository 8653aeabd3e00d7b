/**
 * `deno task server`: runs a NanoRPC server with the demo components.
 *
 * ```sh
 * deno task server --tcp 127.0.0.1:7411 --unix /tmp/nanorpc.sock
 * ```
 *
 * Flags: `--tcp HOST:PORT`, `--unix PATH` and `--http HOST:PORT` (each
 * repeatable; default `--tcp 127.0.0.1:7411`; `--http` serves the
 * WebSocket endpoint `/nanorpc`, the chat page `/` and `/nanorpc.js`;
 * `--http-origin https://game.example`, repeatable, lets only pages of
 * those origins open sockets there, and clients that name no origin),
 * `--max-message-size BYTES`, `--handler-timeout MS`, `--log-level
 * error|warn|info|debug`. SIGINT and SIGTERM shut it down gracefully (a
 * second one during that stops at once, exit status 130 or 143);
 * SIGUSR2 drains first: it stops accepting, closes the sessions spread over
 * `--drain-window MS` (10,000 by default) so clients reconnect elsewhere
 * without a herd, then shuts down. `--http` also serves the Prometheus
 * metrics at `/metrics`, and (when run as `deno task server`, through
 * cluster/main.ts) every `server.service` method over Connect and gRPC-Web
 * at `/<package>.<Service>/<Method>` unless `--no-gateway` is given.
 *
 * Operations: `--rate-limit N` requests per second per session (PINGs
 * free; excess requests wait) with `--rate-burst B` and
 * `--rate-close-after MS`; `--connection-rate N` new connections per
 * second per remote host; `--resume-grace MS` how long a dropped session
 * that holds a resume token waits (30,000 by default; 0 turns resumption
 * off).
 *
 * `--demo all|echo|room|none` (default `all`) picks the part of the demo
 * served; `--module PATH` (repeatable) imports a module whose default
 * export `(server) => void | Promise<void>` registers more. Clustering
 * (`--nats URL`, `--workers N`) is added by `cluster/main.ts`, which the
 * `server` task runs.
 *
 * `--serial PATH[:BAUD]` (repeatable; 115200 baud by default) serves a
 * serial device or pty as one session, set to raw mode with `stty` and
 * reopened when it comes back after disappearing; with only `--serial`
 * flags no TCP listener is opened.
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DEMO_PARTS, type DemoPart, registerDemo } from "./demo.ts";
import type { HttpRoute } from "./http.ts";
import { upgradePolicy } from "./_ws_policy.ts";
import { DEFAULT_PORT, type Listener, type ListenOptions } from "./listener.ts";
import type { LogLevel } from "./logger.ts";
import type { MetricsSource } from "./metrics.ts";
import type { ServerOptions } from "./options.ts";
import { serveSerial } from "./serial.ts";
import { Server } from "./server.ts";
import { StopSignals } from "./_stop_signals.ts";
import { OPS_FLAGS, OPS_USAGE, opsFlags, withMetrics } from "./_ops_flags.ts";
import type { ServerStats } from "./stats.ts";
import { reportFailure, UsageError } from "./_usage.ts";

/** How another entry point (cluster/main.ts, a worker) runs {@link main}. */
export interface MainExtras {
  /** Options merged into the server's (a broker, a forwarder). */
  options?: ServerOptions;
  /** Binds one listener instead of `server.listen`; `undefined` skips it. */
  listen?: (
    server: Server,
    target: ListenOptions,
  ) => Promise<Listener | undefined>;
  /** Resolves to stop the server (besides SIGINT and SIGTERM). */
  stopped?: Promise<void>;
  /** Called once every listener is bound. */
  started?: (server: Server) => void;
  /** Reports the final counters instead of printing them. */
  report?: (stats: ServerStats) => void;
  /** Do not listen for signals (a worker: its parent forwards them). */
  noSignals?: boolean;
  /** What `/metrics` serves; the server's own by default (a pool's). */
  metrics?: MetricsSource;
  /**
   * What every `--http` listener answers for paths nothing else serves:
   * cluster/main.ts passes the Connect gateway (gateway/), which server/
   * does not import. `--no-gateway` leaves it out.
   */
  httpFallback?: (server: Server) => HttpRoute;
}

const USAGE = `usage: deno task server [--tcp HOST:PORT]... [--unix PATH]...
                        [--http HOST:PORT]... [--http-origin ORIGIN]...
                        [--no-gateway]
                        [--serial PATH[:BAUD]]...
                        [--demo all|echo|room|none] [--module PATH]...
                        [--max-message-size BYTES] [--handler-timeout MS]
                        [--log-level LEVEL]
                        ${OPS_USAGE}`;

function parseTcp(
  value: string,
  flag = "--tcp",
): { hostname: string; port: number } {
  const at = value.lastIndexOf(":");
  const digits = value.slice(at + 1);
  const port = Number(digits);
  if (at < 0 || !/^\d+$/.test(digits) || port > 65535) {
    throw new UsageError(
      `${flag} wants HOST:PORT, got ${JSON.stringify(value)}`,
    );
  }
  const hostname = value.slice(0, at).replace(/^\[(.*)\]$/, "$1") ||
    "127.0.0.1";
  return { hostname, port };
}

/** A flag's value as a whole number; NaN when it is not one ("", "1.5"). */
function wholeNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^\d+$/.test(value.trim()) ? Number(value) : NaN;
}

function parseSerial(value: string): { path: string; baud: number } {
  const match = /^(.+?)(?::(\d+))?$/.exec(value);
  if (!match) {
    throw new UsageError(
      `--serial wants PATH[:BAUD], got ${JSON.stringify(value)}`,
    );
  }
  return { path: match[1], baud: Number(match[2] ?? 115200) };
}

/**
 * Runs the server until SIGINT, SIGTERM or `extras.stopped`.
 *
 * @param args The command line, without the program.
 * @param extras What another entry point adds.
 * @returns The exit code.
 */
export async function main(
  args: string[],
  extras: MainExtras = {},
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      tcp: { type: "string", multiple: true },
      unix: { type: "string", multiple: true },
      serial: { type: "string", multiple: true },
      http: { type: "string", multiple: true },
      "http-origin": { type: "string", multiple: true },
      "no-gateway": { type: "boolean" },
      "max-message-size": { type: "string" },
      "handler-timeout": { type: "string" },
      demo: { type: "string", default: "all" },
      module: { type: "string", multiple: true },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h" },
      ...OPS_FLAGS,
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const level = values["log-level"] as LogLevel;
  if (!["error", "warn", "info", "debug"].includes(level)) {
    throw new UsageError(`--log-level must be error, warn, info or debug`);
  }
  const maxMessageSize = wholeNumber(values["max-message-size"]);
  if (maxMessageSize !== undefined && !(maxMessageSize > 0)) {
    throw new UsageError(
      `--max-message-size must be a positive whole number of bytes`,
    );
  }
  const demo = values.demo as DemoPart;
  if (!DEMO_PARTS.includes(demo)) {
    throw new UsageError(`--demo must be one of ${DEMO_PARTS.join(", ")}`);
  }
  const handlerTimeout = wholeNumber(values["handler-timeout"]);
  if (handlerTimeout !== undefined && !(handlerTimeout >= 0)) {
    throw new UsageError(
      `--handler-timeout must be a whole number of milliseconds (0: no limit)`,
    );
  }
  const ops = opsFlags(values);
  const origins = values["http-origin"];
  try {
    upgradePolicy(origins);
  } catch (error) {
    throw new UsageError(`--http-origin: ${(error as Error).message}`);
  }
  // The chat page talks to the demo's room: served only with it.
  const chatPage = demo === "all" || demo === "room";
  const targets: ListenOptions[] = [
    ...(values.tcp ?? []).map((v) => parseTcp(v)),
    ...(values.unix ?? []).map((path) => ({ path })),
    ...(values.http ?? []).map((v) => ({
      http: { ...parseTcp(v, "--http"), demoPage: chatPage, origins },
    })),
  ];
  const lines = (values.serial ?? []).map(parseSerial);
  if (targets.length === 0 && lines.length === 0) {
    targets.push({ hostname: "127.0.0.1", port: DEFAULT_PORT });
  }

  // Listen for signals before binding, so a signal right after the
  // "listening on" line still shuts down gracefully; they stay answered
  // until main returns (see StopSignals).
  using signals = extras.noSignals
    ? undefined
    : new StopSignals({ drainWindow: ops.drainWindow });
  const stopped = Promise.withResolvers<void>();
  signals?.stopped.then(() => stopped.resolve());
  extras.stopped?.then(() => {
    signals?.stop();
    stopped.resolve();
  });
  const server = new Server({
    ...extras.options,
    ...ops.options,
    maxMessageSize,
    handlerTimeout,
    logLevel: level,
  });
  registerDemo(server, demo);
  for (const path of values.module ?? []) {
    // A path may hold # or %: a file URL of it, unless it is a URL.
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(path)
      ? new URL(path)
      : pathToFileURL(resolve(path));
    const mod = await import(url.href);
    if (typeof mod.default !== "function") {
      throw new UsageError(
        `--module ${path} has no default export (server) => void; export one`,
      );
    }
    await mod.default(server);
  }
  const gateway = values["no-gateway"]
    ? undefined
    : extras.httpFallback?.(server);
  for (const target of targets) {
    const metered = withMetrics(target, extras.metrics ?? server);
    const bound = gateway && "http" in metered
      ? { http: { ...metered.http, fallback: gateway } }
      : metered;
    const listener = extras.listen
      ? await extras.listen(server, bound)
      : await server.listen(bound);
    if (!listener) continue;
    if (level === "error" || level === "warn") {
      console.log(`listening on ${listener.url}`);
    }
    if ("http" in target) {
      const ws = `${listener.url.replace(/^http/, "ws")}/nanorpc`;
      console.log(
        chatPage
          ? `chat page ${listener.url}/, WebSocket endpoint ${ws}`
          : `WebSocket endpoint ${ws}`,
      );
      if (gateway) {
        console.log(
          `Connect and gRPC-Web gateway ${listener.url}/<package>.<Service>/<Method>`,
        );
      }
    }
  }

  for (const { path, baud } of lines) {
    serveSerial(server, path, {
      baud,
      onError: (error) => console.warn(`serial ${path}: ${error.message}`),
    });
    console.log(`serving serial://${path} at ${baud} baud`);
  }

  signals?.serve(server);
  extras.started?.(server);
  await stopped.promise;
  await server.shutdown();
  const s = server.stats();
  if (extras.report) {
    extras.report(s);
    return 0;
  }
  console.log(
    `served ${s.sessionsOpened} sessions, ${s.framesIn} frames in, ${s.framesOut} out, ` +
      `${s.malformedCloses} malformed, ${s.resyncs} resyncs, ${s.droppedUpdates} updates dropped`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    Deno.exit(reportFailure(err, USAGE));
  }
}
