/**
 * A hand-driven NanoRPC peer for client tests: it listens on TCP port 0,
 * decodes request frames with protobuf-es (independently of the WASM
 * codec) and writes whatever response bytes a test scripts. Named
 * `_test.ts` so it is never published; it holds no tests itself.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, connect } from "./client.ts";
import type { ConnectionEvent } from "./events.ts";
import type { ClientOptions } from "./options.ts";
import {
  type NanoRPCRequest,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";

/** Fields of a response frame to send. */
export interface ResponseInit {
  requestId: number;
  responseType: number;
  responseStatus?: number;
  responseMessage?: string;
  data?: Uint8Array;
}

/** Encodes a response as a length-delimited frame. */
export function responseFrame(init: ResponseInit): Uint8Array {
  const body = toBinary(
    NanoRPCResponseSchema,
    create(NanoRPCResponseSchema, {
      requestId: init.requestId,
      responseType: init.responseType,
      responseStatus: init.responseStatus ?? 1,
      responseMessage: init.responseMessage ?? "",
      data: init.data ?? new Uint8Array(0),
    }),
  );
  return concat([varint(body.length), body]);
}

export function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return new Uint8Array(out);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** One accepted connection. */
export class PeerSession {
  readonly conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);
  #requests: NanoRPCRequest[] = [];
  #waiters: ((request: NanoRPCRequest | null) => void)[] = [];
  #ended = false;
  readonly done: Promise<void>;
  /** Number of `read`s that returned request bytes. */
  reads = 0;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.done = this.#loop();
  }

  /** The next request frame, or null when the client hung up. */
  next(): Promise<NanoRPCRequest | null> {
    const request = this.#requests.shift();
    if (request) return Promise.resolve(request);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Sends response frames (or raw bytes) in one write. */
  async send(...frames: (ResponseInit | Uint8Array)[]): Promise<void> {
    const bytes = concat(
      frames.map((f) => f instanceof Uint8Array ? f : responseFrame(f)),
    );
    for (let at = 0; at < bytes.length;) {
      at += await this.conn.write(bytes.subarray(at));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  async #loop(): Promise<void> {
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        this.reads++;
        this.#buf = concat([this.#buf, chunk.subarray(0, n)]);
        this.#split();
      }
    } catch {
      // Closed by the test.
    }
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  #split(): void {
    for (;;) {
      let len = 0;
      let shift = 0;
      let at = 0;
      for (;;) {
        if (at >= this.#buf.length) return;
        const b = this.#buf[at++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) break;
      }
      if (this.#buf.length < at + len) return;
      const request = fromBinary(
        NanoRPCRequestSchema,
        this.#buf.subarray(at, at + len),
      );
      this.#buf = this.#buf.slice(at + len);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(request);
      else this.#requests.push(request);
    }
  }
}

/** A TCP listener handing out {@link PeerSession}s. */
export class RawPeer {
  readonly listener: Deno.TcpListener;
  readonly sessions: PeerSession[] = [];

  constructor(port = 0) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port });
  }

  get port(): number {
    return this.listener.addr.port;
  }

  get address(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  async accept(): Promise<PeerSession> {
    const session = new PeerSession(await this.listener.accept());
    this.sessions.push(session);
    return session;
  }

  async close(): Promise<void> {
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    for (const session of this.sessions) session.close();
    await Promise.all(this.sessions.map((s) => s.done));
  }
}

/** Response types, as numbers. */
export const PONG = 1;
export const RESPONSE = 2;
export const UPDATE = 3;

/** A raw peer, a client connected to it, and the accepted session. */
export async function setup(options: ClientOptions = {}) {
  const peer = new RawPeer();
  const accepted = peer.accept();
  const client = await connect(peer.address, { keepalive: false, ...options });
  const session = await accepted;
  return {
    peer,
    client,
    session,
    async [Symbol.asyncDispose]() {
      await client.close();
      await peer.close();
    },
  };
}

/** The next event of `type` the client dispatches. */
export function nextEvent(
  client: Client,
  type: string,
): Promise<ConnectionEvent> {
  return new Promise((resolve) =>
    client.addEventListener(type, (e) => resolve(e as ConnectionEvent), {
      once: true,
    })
  );
}

/** Answers the next request with RESPONSE/OK and returns the request. */
export async function answer(session: PeerSession, data?: Uint8Array) {
  const request = (await session.next())!;
  await session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
    data,
  });
  return request;
}

/**
 * `promise`, or a rejection after `ms`: an awaited event that never comes
 * fails the test instead of hanging it.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`No ${what} within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects (and silences) `console.error` calls until disposed. */
export function captureConsoleError() {
  const original = console.error;
  const calls: unknown[][] = [];
  console.error = (...args: unknown[]) => calls.push(args);
  return {
    calls,
    [Symbol.dispose]() {
      console.error = original;
    },
  };
}
