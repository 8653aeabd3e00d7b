/**
 * `raw-broadcast`: the ceiling for fan-out in Deno, the fan-out
 * benchmark's counterpart of raw-echo. It splits the same varint-prefixed
 * frames and peeks at one byte of each (the request type after the id),
 * with no protobuf work: a SUBSCRIBE frame is echoed back as its ack and
 * makes the connection a subscriber; every other frame is sent, unchanged,
 * to every subscriber and back to its sender. All frames one read brings
 * go out as one buffer, shared by every subscriber, in one write per
 * subscriber (corked like the NanoRPC session; nothing is encoded per
 * subscriber).
 *
 * ```sh
 * deno run -A bench/raw_broadcast.ts --tcp 127.0.0.1:0
 * ```
 *
 * Prints `listening on tcp://HOST:PORT` once bound; SIGINT and SIGTERM stop
 * it.
 *
 * @module
 */

import { runRawServer } from "./_raw_server.ts";
import { completeFrames } from "./raw_echo.ts";

const SUBSCRIBE = 3;

/** One connection and its queue of outgoing buffers. */
class Peer {
  readonly conn: Deno.TcpConn;
  #queue: Uint8Array[] = [];
  #writing = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Queues `bytes` (not copied: they must not change) and writes. */
  send(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    if (!this.#writing) this.#pump();
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#queue.length === 1
          ? this.#queue[0]
          : concat(this.#queue);
        this.#queue = [];
        let written = 0;
        while (written < chunk.length) {
          written += await this.conn.write(chunk.subarray(written));
        }
      }
    } catch {
      this.#queue = [];
    } finally {
      this.#writing = false;
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Offset just past the varint at `at`. */
function skipVarint(buf: Uint8Array, at: number): number {
  while (buf[at++] & 0x80) { /* continuation */ }
  return at;
}

/**
 * The request type of the frame at `at` when it starts with request_id
 * then request_type (as protobuf encoders write them), else 0.
 */
function requestType(buf: Uint8Array, at: number): number {
  let p = skipVarint(buf, at);
  if (buf[p] === 0x08) p = skipVarint(buf, p + 1);
  return buf[p] === 0x10 ? buf[p + 1] : 0;
}

const subscribers = new Set<Peer>();

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const peer = new Peer(conn);
  let buf = new Uint8Array(4096);
  let filled = 0;
  try {
    for (;;) {
      if (filled === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf.subarray(0, filled));
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(filled));
      if (n === null) break;
      filled += n;
      const end = completeFrames(buf, filled);
      if (end < 0) break;
      const acks: Uint8Array[] = [];
      const publishes: Uint8Array[] = [];
      for (let at = 0; at < end;) {
        const next = frameEnd(buf, at);
        const frame = buf.slice(at, next);
        if (requestType(buf, at) === SUBSCRIBE) {
          subscribers.add(peer);
          acks.push(frame);
        } else publishes.push(frame);
        at = next;
      }
      if (acks.length > 0) peer.send(concat(acks));
      if (publishes.length > 0) {
        const batch = concat(publishes);
        for (const sub of subscribers) sub.send(batch);
        if (!subscribers.has(peer)) peer.send(batch);
      }
      buf.copyWithin(0, end, filled);
      filled -= end;
    }
  } catch {
    // The peer reset the connection.
  }
  subscribers.delete(peer);
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Offset just past the (complete) frame at `at`. */
function frameEnd(buf: Uint8Array, at: number): number {
  let size = 0;
  let shift = 0;
  let b: number;
  do {
    b = buf[at++];
    size += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return at + size;
}

if (import.meta.main) await runRawServer(Deno.args, serve);
