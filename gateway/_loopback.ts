// One NanoRPC call made by the gateway through a session of its own: a
// pipe served by `server.serve`, so the call meets the session limit, the
// handshake hook, middleware, time limits and the handler exactly as a
// call from a NanoRPC peer does.

import {
  create,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  NanoRPCRequestSchema,
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { errorFromStatus } from "../protocol/errors.ts";
import type { Server } from "../server/server.ts";
import { currentTraceparent, withTraceparent } from "../server/tracing.ts";
import type { Session } from "../server/session.ts";
import type { PeerAddress } from "../transport/byte_stream.ts";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { Pipe } from "./_pipe.ts";
import type { SessionTracker } from "./_sessions.ts";

const ID = 1;
const EMPTY = new Uint8Array(0);

/** The session ended (or was refused) before the call was answered. */
export class SessionEndedError extends Error {
  /**
   * The server's own reason (a hook's error text, a limit): for the
   * server's log only, never for the HTTP client.
   */
  readonly reason: string;
  /** Creates it with the session's reason, kept out of the message. */
  constructor(reason: string) {
    super(
      "The gateway's NanoRPC session was refused or ended before the answer; retry shortly",
    );
    this.name = "SessionEndedError";
    this.reason = reason || "closed";
  }
}

/**
 * The session was not ready for the call -- not opened by the server, or
 * not prepared by `prepare` -- within the call's time limit, or the HTTP
 * request was aborted while it waited.
 */
export class SessionNotReadyError extends Error {
  /** What was pending: for the server's log only, never for the client. */
  readonly reason: string;
  /** The limit that passed, in ms; `undefined` when the request was aborted. */
  readonly timeoutMs: number | undefined;
  /** Creates it with what was pending and the limit that passed, if any. */
  constructor(reason: string, timeoutMs?: number) {
    super(
      timeoutMs === undefined
        ? "The HTTP request was aborted before the gateway was ready to make the call"
        : `The gateway could not get ready to make the call within ${timeoutMs} ms; retry later`,
    );
    this.name = "SessionNotReadyError";
    this.reason = reason;
    this.timeoutMs = timeoutMs;
  }
}

/** The call's NanoRPC frame would be over the server's `maxMessageSize`. */
export class RequestTooLargeError extends Error {
  /** Creates it with the frame's size and the server's limit. */
  constructor(size: number, max: number) {
    super(
      `The request is ${size} bytes as a NanoRPC frame (path and header included), more than the server's maxMessageSize (${max}): send a smaller message`,
    );
    this.name = "RequestTooLargeError";
  }
}

/** How a {@link Loopback} is opened. */
export interface LoopbackOptions {
  /** The peer the session reports (the HTTP client's address). */
  remoteAddr: PeerAddress;
  /** Largest response frame read, in bytes. */
  maxMessageSize: number;
  /** Largest request frame the server reads (its `maxMessageSize`). */
  maxRequestSize: number;
  /** Sends a PING this often while subscribed (0: never). */
  keepaliveMs: number;
  /** Finds the session once it opens. */
  track: SessionTracker;
  /**
   * Prepares the session before the call is sent; what it throws fails
   * the call.
   */
  prepare?: (session: Session) => void | Promise<void>;
  /**
   * Longest wait, in ms, for the session to open and `prepare` to settle
   * (0: no limit of its own). Past it the session is closed and the call
   * fails with a {@link SessionNotReadyError} naming the limit.
   */
  readyTimeoutMs?: number;
  /**
   * Aborting it while the session is not ready yet closes the session and
   * fails the call with a {@link SessionNotReadyError}; once the session
   * is ready it is no longer listened to.
   */
  signal?: AbortSignal;
}

/** One call over one fresh session. Close it when done. */
export class Loopback {
  #pipe: Pipe;
  #frames: AsyncGenerator<NanoRPCResponse, void>;
  #options: LoopbackOptions;
  #timer?: ReturnType<typeof setInterval>;
  #session: Promise<Session | undefined>;
  #opened: Promise<unknown>;

  /** Opens a session on `server` for one call. */
  constructor(server: Server, options: LoopbackOptions) {
    this.#options = options;
    this.#pipe = new Pipe(options.remoteAddr);
    // Tracked before it is served, so its `sessionopen` cannot be missed.
    this.#session = options.track(options.remoteAddr, this.#pipe.ended);
    // Its requests' spans are children of the HTTP request's, if traced.
    withTraceparent(currentTraceparent(), () => server.serve(this.#pipe.server))
      .catch((error) =>
        this.#pipe.close(error instanceof Error ? error.message : String(error))
      ).finally(() => this.#pipe.close("the session ended"));
    const prepare = options.prepare;
    let pending = "the server did not open the session";
    const ready = this.#session.then((session) => {
      if (!session || !prepare) return;
      pending = "the gateway's session hook did not settle";
      return prepare(session);
    });
    this.#opened = this.#untilReady(ready, () => pending);
    // A call that fails before it waits (a frame over the size limit)
    // must not leave the wait's rejection unhandled.
    this.#opened.catch(() => {});
    this.#frames = this.#read();
  }

  /** Settles when the session has ended. */
  get ended(): Promise<void> {
    return this.#pipe.ended;
  }

  /**
   * Ends the session at once: its handlers' `ctx.signal` aborts, and a
   * subscription ends with it.
   */
  close(reason: string): void {
    clearInterval(this.#timer);
    this.#pipe.close(reason);
    this.#session.then((session) => session?.close(reason));
  }

  /**
   * Sends a REQUEST and resolves with the response data.
   *
   * @throws {NanoRpcError} For a status other than OK.
   * @throws {SessionEndedError} When the session ends first.
   * @throws {RequestTooLargeError} When the frame would be over the limit.
   */
  async request(path: string, data: Uint8Array): Promise<Uint8Array> {
    await this.#send(RequestType.REQUEST, path, data);
    return await this.#answer();
  }

  /**
   * Sends a SUBSCRIBE and yields the data of every UPDATE after the ack,
   * until the session ends (then it throws) or the caller stops.
   *
   * @throws {NanoRpcError} When the subscription is refused.
   * @throws {SessionEndedError} When the session ends.
   */
  async *subscribe(
    path: string,
    filter: Uint8Array,
  ): AsyncGenerator<Uint8Array, void> {
    await this.#send(RequestType.SUBSCRIBE, path, filter);
    await this.#answer();
    if (this.#options.keepaliveMs > 0) {
      // A server that has not read the last ping (its peer, the HTTP
      // client, stopped reading) needs no other: none piles up unread.
      this.#timer = setInterval(() => {
        if (this.#pipe.unread === 0) {
          this.#write({ requestType: RequestType.PING });
        }
      }, this.#options.keepaliveMs);
    }
    for (;;) {
      const { value: frame } = await this.#frames.next();
      if (!frame) throw new SessionEndedError(this.#pipe.reason);
      if (
        frame.requestId === ID && frame.responseType === ResponseType.UPDATE
      ) {
        yield frame.data;
      }
    }
  }

  /**
   * `ready`, unless the session ends, the time limit passes or the request
   * is aborted first. Then the session is closed, and what `ready` does
   * later -- a hook that settles or throws after the call -- is ignored.
   */
  #untilReady(ready: Promise<unknown>, pending: () => string): Promise<void> {
    const { readyTimeoutMs: ms = 0, signal } = this.#options;
    const wait = Promise.withResolvers<void>();
    let waiting = true;
    const stop = () => {
      if (!waiting) return false;
      waiting = false;
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
      return true;
    };
    // The wait's own ends (the limit, the abort) close the session.
    const fail = (error: Error) => {
      if (!stop()) return;
      wait.reject(error);
      if (error instanceof SessionNotReadyError) this.close(error.reason);
    };
    const aborted = () =>
      fail(
        new SessionNotReadyError(`the HTTP request was aborted: ${pending()}`),
      );
    const timer = ms > 0
      ? setTimeout(() => {
        fail(new SessionNotReadyError(`${pending()} within ${ms} ms`, ms));
      }, ms)
      : undefined;
    if (signal?.aborted) aborted();
    else signal?.addEventListener("abort", aborted, { once: true });
    ready.then(() => stop() && wait.resolve(), (error) => {
      if (stop()) wait.reject(error);
    });
    this.#pipe.ended.then(() => fail(new SessionEndedError(this.#pipe.reason)));
    return wait.promise;
  }

  async #send(type: number, path: string, data: Uint8Array) {
    const frame = encode({
      requestId: ID,
      requestType: type,
      pathOneof: { case: "path", value: path },
      data,
    });
    const max = this.#options.maxRequestSize;
    if (frame.length > max) throw new RequestTooLargeError(frame.length, max);
    await this.#opened;
    if (this.#pipe.closed) throw new SessionEndedError(this.#pipe.reason);
    this.#writeFrame(frame);
  }

  #write(init: MessageInitShape<typeof NanoRPCRequestSchema>) {
    this.#writeFrame(encode(init));
  }

  #writeFrame(frame: Uint8Array) {
    const out = new Uint8Array(varintSize(frame.length) + frame.length);
    let n = frame.length, at = 0;
    while (n > 0x7f) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(frame, at);
    this.#pipe.send(out);
  }

  async #answer(): Promise<Uint8Array> {
    for (;;) {
      const { value: frame } = await this.#frames.next();
      if (!frame) throw new SessionEndedError(this.#pipe.reason);
      if (
        frame.requestId !== ID || frame.responseType !== ResponseType.RESPONSE
      ) continue;
      if (frame.responseStatus === Status.OK) return frame.data;
      throw errorFromStatus(frame.responseStatus, frame.responseMessage);
    }
  }

  /** Splits what the server writes into response frames. */
  async *#read(): AsyncGenerator<NanoRPCResponse, void> {
    let buffer: Uint8Array = EMPTY;
    for (;;) {
      const frame = takeFrame(buffer, this.#options.maxMessageSize);
      if (frame) {
        buffer = buffer.subarray(frame.end);
        yield fromBinary(NanoRPCResponseSchema, frame.bytes);
        continue;
      }
      const chunk = await this.#pipe.next();
      if (!chunk) return;
      buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
    }
  }
}

function encode(
  init: MessageInitShape<typeof NanoRPCRequestSchema>,
): Uint8Array {
  return toBinary(NanoRPCRequestSchema, create(NanoRPCRequestSchema, init));
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n >>>= 7;
    size++;
  }
  return size;
}

/** The first whole frame of `buffer`, if it holds one. */
function takeFrame(
  buffer: Uint8Array,
  max: number,
): { bytes: Uint8Array; end: number } | undefined {
  let length = 0, shift = 0, at = 0;
  for (;;) {
    if (at >= buffer.length) return undefined;
    const b = buffer[at++];
    length += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) break;
    if (shift > 35) {
      throw new Error("The server wrote a malformed frame prefix");
    }
  }
  if (length > max) {
    throw new Error(
      `The server wrote a ${length}-byte frame, more than maxMessageSize (${max})`,
    );
  }
  const end = at + length;
  return end <= buffer.length
    ? { bytes: buffer.subarray(at, end), end }
    : undefined;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
