/**
 * `raw-echo-node`: raw_echo.ts's work over Deno's other TCP path, `node:net`
 * (Deno's native TCP handle, read through callbacks rather than one
 * `Deno.Conn.read` promise per read). Complete frames are written back
 * unchanged as they arrive, a partial frame waits for the rest, sockets are
 * no-delay; while a write is buffered past the socket's high-water mark,
 * reading pauses until it drains. A baseline for what the runtime's I/O
 * path costs, not for our server (which reads through `Deno.Conn`).
 *
 * ```sh
 * deno run -A bench/raw_echo_node.ts --tcp 127.0.0.1:0
 * ```
 *
 * Prints `listening on tcp://HOST:PORT` once bound; SIGINT and SIGTERM stop
 * it.
 *
 * @module
 */

import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { completeFrames } from "./raw_echo.ts";

/** Echoes the complete frames `socket` sends. */
function serve(socket: Socket): void {
  let pending: Uint8Array | undefined;
  socket.on("data", (chunk: Uint8Array) => {
    let bytes = chunk;
    if (pending) {
      bytes = new Uint8Array(pending.length + chunk.length);
      bytes.set(pending);
      bytes.set(chunk, pending.length);
      pending = undefined;
    }
    const end = completeFrames(bytes, bytes.length);
    if (end < 0) return void socket.destroy();
    if (end < bytes.length) pending = bytes.slice(end);
    if (end > 0 && !socket.write(bytes.subarray(0, end))) {
      socket.pause();
      socket.once("drain", () => socket.resume());
    }
  });
  // A reset by the peer: nothing to do but let the socket close.
  socket.on("error", () => {});
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { tcp: { type: "string", default: "127.0.0.1:0" } },
  });
  const at = values.tcp.lastIndexOf(":");
  const server = createServer({ noDelay: true }, serve);
  server.listen(
    Number(values.tcp.slice(at + 1)),
    values.tcp.slice(0, at) || "127.0.0.1",
    () => {
      const addr = server.address() as { address: string; port: number };
      console.log(`listening on tcp://${addr.address}:${addr.port}`);
    },
  );
  const stop = () => Deno.exit(0);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
