/**
 * `raw-echo`: the ceiling for Deno TCP I/O in the load benchmark. A minimal
 * server that splits the same varint-prefixed frames NanoRPC uses and
 * writes every complete frame back unchanged, with no protobuf work at
 * all: one `write` per `read` (corked like the NanoRPC session), partial
 * frames carried over, no-delay sockets like the NanoRPC server.
 *
 * ```sh
 * deno run -A bench/raw_echo.ts --tcp 127.0.0.1:0
 * ```
 *
 * Prints `listening on tcp://HOST:PORT` once bound; SIGINT and SIGTERM stop
 * it.
 *
 * @module
 */

import { runRawServer } from "./_raw_server.ts";

const MAX_MESSAGE = 1024 * 1024;
const INITIAL_READ = 4096;
const STEADY_READ = 65536;

/**
 * Length of the complete frames at the start of `buf[0, filled)`, or -1
 * when a prefix is malformed (over 10 bytes or over the size limit).
 */
export function completeFrames(buf: Uint8Array, filled: number): number {
  let at = 0;
  for (;;) {
    let size = 0;
    let shift = 0;
    let p = at;
    let done = false;
    while (p < filled) {
      const b = buf[p++];
      if (shift < 28) size |= (b & 0x7f) << shift;
      else size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        done = true;
        break;
      }
      if (shift >= 70) return -1;
    }
    if (!done) return at;
    if (size > MAX_MESSAGE) return -1;
    if (p + size > filled) return at;
    at = p + size;
  }
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  let buf = new Uint8Array(INITIAL_READ);
  let filled = 0;
  try {
    for (;;) {
      if (filled === buf.length) {
        const bigger = new Uint8Array(
          Math.min(Math.max(buf.length * 2, STEADY_READ), MAX_MESSAGE + 10),
        );
        bigger.set(buf.subarray(0, filled));
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(filled));
      if (n === null) break;
      filled += n;
      const end = completeFrames(buf, filled);
      if (end < 0) break;
      if (end === 0) continue;
      let written = 0;
      while (written < end) {
        written += await conn.write(buf.subarray(written, end));
      }
      buf.copyWithin(0, end, filled);
      filled -= end;
    }
  } catch {
    // The peer reset the connection: nothing to do but close.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

if (import.meta.main) await runRawServer(Deno.args, serve);
