// A ByteStream as the layers above it rely on it: read and write never
// throw synchronously (a throw becomes a rejection) and close never throws.
// A user's own adapter may do either; sessions and the client's connection
// call write from a microtask and close without waiting, where a throw
// would end the process. Each stream is wrapped once, where it enters.

import type { ByteStream, PeerAddress } from "./byte_stream.ts";
import { WRITE_SOME, type WritesSome, writesSome } from "./_write_some.ts";

/** Told when a stream's `close` threw (the stream counts as closed). */
export type CloseErrorSink = (error: unknown) => void;

/**
 * `stream`, guarded as the module doc says; a stream guarded already is
 * returned as it is. `onCloseError` hears of a `close` that threw.
 */
export function guardStream(
  stream: ByteStream,
  onCloseError?: CloseErrorSink,
): ByteStream {
  if (stream instanceof GuardedStream) return stream;
  return writesSome(stream)
    ? new GuardedWriteSomeStream(stream, onCloseError)
    : new GuardedStream(stream, onCloseError);
}

class GuardedStream implements ByteStream {
  readonly transport: string;
  readonly remoteAddr: PeerAddress;
  readonly #inner: ByteStream;
  readonly #onCloseError?: CloseErrorSink;

  constructor(inner: ByteStream, onCloseError?: CloseErrorSink) {
    this.#inner = inner;
    this.#onCloseError = onCloseError;
    this.transport = inner.transport;
    this.remoteAddr = inner.remoteAddr;
  }

  get peerClosed(): boolean | undefined {
    return this.#inner.peerClosed;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    try {
      return Promise.resolve(this.#inner.read(buffer));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  write(data: Uint8Array): Promise<void> {
    try {
      return Promise.resolve(this.#inner.write(data));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(reason?: string): void {
    try {
      this.#inner.close(reason);
    } catch (error) {
      try {
        this.#onCloseError?.(error);
      } catch {
        // Whoever hears of it failed too; the stream is closed regardless.
      }
    }
  }
}

/** A guarded stream whose inner one has the fast path (_write_some.ts). */
class GuardedWriteSomeStream extends GuardedStream implements WritesSome {
  readonly #some: WritesSome;

  constructor(inner: ByteStream & WritesSome, onCloseError?: CloseErrorSink) {
    super(inner, onCloseError);
    this.#some = inner;
  }

  [WRITE_SOME](data: Uint8Array): Promise<number> {
    try {
      return Promise.resolve(this.#some[WRITE_SOME](data));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
