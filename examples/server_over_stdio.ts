/**
 * A NanoRPC server that speaks over its own stdin and stdout: the process
 * is one session, and it exits when its stdin ends. Run it as a child
 * process and connect to it with a dialer (see `client_over_stdio.ts`):
 *
 * ```sh
 * deno run --allow-run examples/client_over_stdio.ts
 * ```
 *
 * It needs no permission at all. Nothing may be printed to stdout, which
 * carries the frames: log lines go to stderr.
 *
 * @module
 */

import { type Logger, Server } from "@nanorpc/nanorpc/server";
import { webStreamPair } from "@nanorpc/nanorpc/transport";

const toStderr: Logger = {
  error: console.error,
  warn: console.error,
  info: console.error,
  debug: console.error,
};

const server = new Server({ logger: toStderr });
server.handle("/echo", (ctx) => ctx.data);
server.handle("/pid", () => new TextEncoder().encode(String(Deno.pid)));

await server.serve(
  webStreamPair(
    { readable: Deno.stdin.readable, writable: Deno.stdout.writable },
    { remoteAddr: { transport: "stdio" } },
  ),
);
await server.shutdown();
