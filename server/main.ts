/**
 * `deno task server`: runs a NanoRPC server with the demo components.
 *
 * ```sh
 * deno task server --tcp 127.0.0.1:7411 --unix /tmp/nanorpc.sock
 * ```
 *
 * Flags: `--tcp HOST:PORT` and `--unix PATH` (each repeatable; default
 * `--tcp 127.0.0.1:7411`), `--max-message-size BYTES`, `--log-level
 * error|warn|info|debug`. SIGINT and SIGTERM shut it down gracefully.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { registerDemo } from "./demo.ts";
import { DEFAULT_PORT, type ListenOptions } from "./listener.ts";
import type { LogLevel } from "./logger.ts";
import { Server } from "./server.ts";

const USAGE = `usage: deno task server [--tcp HOST:PORT]... [--unix PATH]...
                        [--max-message-size BYTES] [--log-level LEVEL]`;

function parseTcp(value: string): ListenOptions {
  const at = value.lastIndexOf(":");
  const port = Number(value.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--tcp wants HOST:PORT, got ${JSON.stringify(value)}`);
  }
  const hostname = value.slice(0, at).replace(/^\[(.*)\]$/, "$1") ||
    "127.0.0.1";
  return { hostname, port };
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      tcp: { type: "string", multiple: true },
      unix: { type: "string", multiple: true },
      "max-message-size": { type: "string" },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const level = values["log-level"] as LogLevel;
  if (!["error", "warn", "info", "debug"].includes(level)) {
    throw new Error(`--log-level must be error, warn, info or debug`);
  }
  const maxMessageSize = values["max-message-size"] === undefined
    ? undefined
    : Number(values["max-message-size"]);
  if (maxMessageSize !== undefined && !(maxMessageSize > 0)) {
    throw new Error(`--max-message-size must be a positive number of bytes`);
  }
  const targets: ListenOptions[] = [
    ...(values.tcp ?? []).map(parseTcp),
    ...(values.unix ?? []).map((path) => ({ path })),
  ];
  if (targets.length === 0) {
    targets.push({ hostname: "127.0.0.1", port: DEFAULT_PORT });
  }

  // Listen for signals before binding, so a signal right after the
  // "listening on" line still shuts down gracefully.
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const server = new Server({ maxMessageSize, logLevel: level });
  registerDemo(server);
  for (const target of targets) {
    const listener = await server.listen(target);
    if (level === "error" || level === "warn") {
      console.log(`listening on ${listener.url}`);
    }
  }

  await stopped.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await server.shutdown();
  const s = server.stats();
  console.log(
    `served ${s.sessionsOpened} sessions, ${s.framesIn} frames in, ${s.framesOut} out, ` +
      `${s.malformedCloses} malformed, ${s.droppedUpdates} updates dropped`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(
      `error: ${err instanceof Error ? err.message : err}\n${USAGE}`,
    );
    Deno.exit(2);
  }
}
