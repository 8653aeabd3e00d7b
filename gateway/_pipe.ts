// An in-memory byte stream between the gateway and one server session.
// The server's side is a ByteStream; the gateway's side reads what the
// server writes one chunk at a time, and the server's write settles only
// when the gateway has taken the chunk -- so a gateway that stops reading
// (an HTTP client that stops reading) makes the session's writes pend, and
// the session's own bounded outgoing buffer drops and counts its updates.

import type { ByteStream, PeerAddress } from "../transport/byte_stream.ts";

interface Pending {
  readonly data: Uint8Array;
  readonly taken: () => void;
}

/** Thrown by the server side's writes once the pipe is closed. */
const closedError = () =>
  new Deno.errors.BadResource("The gateway's loopback stream is closed");

/**
 * A pipe with two ends: {@link Pipe.server} for `server.serve`, and
 * `send`/`next`/`close` for the gateway.
 */
export class Pipe {
  /** The server's end. */
  readonly server: ByteStream;
  #toServer: Uint8Array[] = [];
  #fromServer: Pending[] = [];
  #serverReading?: () => void;
  #gatewayReading?: () => void;
  #closed = false;
  #reason = "";
  #ended = Promise.withResolvers<void>();

  /** A pipe whose server end reports `remoteAddr` as its peer. */
  constructor(remoteAddr: PeerAddress) {
    this.server = {
      transport: remoteAddr.transport,
      remoteAddr,
      read: (buffer) => this.#serverRead(buffer),
      write: (data) => this.#serverWrite(data),
      close: (reason) => this.close(reason ?? "closed by the server"),
    };
  }

  /** Whether either side closed it. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why it was closed (the server's reason when the server closed it). */
  get reason(): string {
    return this.#reason;
  }

  /** Chunks sent to the server that it has not read yet. */
  get unread(): number {
    return this.#toServer.length;
  }

  /** Settles when the pipe is closed. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  /** Queues bytes for the server to read (frames the gateway sends). */
  send(data: Uint8Array): void {
    if (this.#closed) return;
    this.#toServer.push(data);
    this.#serverReading?.();
  }

  /**
   * The next chunk the server wrote (a copy), or `null` once the pipe is
   * closed and nothing written before is left.
   */
  async next(): Promise<Uint8Array | null> {
    while (this.#fromServer.length === 0) {
      if (this.#closed) return null;
      await new Promise<void>((resolve) => this.#gatewayReading = resolve);
      this.#gatewayReading = undefined;
    }
    const pending = this.#fromServer.shift()!;
    const copy = this.#closed ? pending.data : pending.data.slice();
    pending.taken();
    return copy;
  }

  /** Closes both ends: the session sees the end of its stream. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reason = reason;
    this.#toServer.length = 0;
    // What the server wrote stays readable; its buffers are its own again.
    this.#fromServer = this.#fromServer.map(({ data, taken }) => {
      taken();
      return { data: data.slice(), taken: () => {} };
    });
    this.#serverReading?.();
    this.#gatewayReading?.();
    this.#ended.resolve();
  }

  async #serverRead(buffer: Uint8Array): Promise<number | null> {
    while (this.#toServer.length === 0) {
      if (this.#closed) return null;
      await new Promise<void>((resolve) => this.#serverReading = resolve);
      this.#serverReading = undefined;
    }
    const chunk = this.#toServer[0];
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#toServer.shift();
    else this.#toServer[0] = chunk.subarray(n);
    return n;
  }

  #serverWrite(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (data.length === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#fromServer.push({ data, taken: resolve });
    this.#gatewayReading?.();
    return promise;
  }
}
