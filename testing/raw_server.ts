/**
 * Test kit: a hand-driven NanoRPC server for client tests. It listens on
 * TCP port 0, decodes request frames with protobuf-es (independently of
 * the project's codec) and writes whatever response bytes a test scripts,
 * well-formed or not.
 *
 * @module
 */

import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
import { closeQuietly, writeAll } from "./conn.ts";
import {
  concat,
  FrameSplitter,
  type NanoRPCRequest,
  RESPONSE,
  responseFrame,
  type ResponseInit,
} from "./frames.ts";
import { within } from "./wait.ts";

/** The path {@link RawSession.sync} requests. */
export const SYNC_PATH = "/_kit/sync";

interface Waiter {
  accepts(request: NanoRPCRequest): boolean;
  resolve(request: NanoRPCRequest | null): void;
}

/** One connection a {@link RawServer} accepted. */
export class RawSession {
  /** The socket. */
  readonly conn: Deno.Conn;
  /** Settles once the client hung up or the session was closed. */
  readonly done: Promise<void>;
  /** How many reads returned bytes: requests written together come in one. */
  reads = 0;
  readonly #frames = new FrameSplitter(NanoRPCRequestSchema);
  readonly #requests: NanoRPCRequest[] = [];
  readonly #waiters: Waiter[] = [];
  #ended = false;

  /**
   * Starts reading requests from an accepted connection.
   *
   * @param conn The connection.
   */
  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.done = this.#loop();
  }

  /**
   * The next request, in arrival order.
   *
   * @param timeout Milliseconds to wait; 5000 by default.
   * @returns The request, or `null` once the client hung up.
   * @throws {Error} When no request comes in time.
   */
  next(timeout = 5000): Promise<NanoRPCRequest | null> {
    return this.#take(() => true, timeout, "request");
  }

  /**
   * Sends response frames, or raw bytes, in one write.
   *
   * @param frames Responses (status OK unless given) or bytes.
   */
  send(...frames: (ResponseInit | Uint8Array)[]): Promise<void> {
    const bytes = concat(
      ...frames.map((f) => f instanceof Uint8Array ? f : responseFrame(f)),
    );
    return writeAll(this.conn, bytes);
  }

  /**
   * Answers the next request with RESPONSE, status OK.
   *
   * @param data The response data.
   * @returns The request it answered.
   * @throws {Error} When the client hung up first.
   */
  async answer(data?: Uint8Array): Promise<NanoRPCRequest> {
    const request = await this.next();
    if (!request) throw new Error("The client hung up before the request");
    await this.send({
      requestId: request.requestId,
      responseType: RESPONSE,
      data,
    });
    return request;
  }

  /**
   * Resolves once the client has handled every byte sent to it so far: it
   * makes a request to {@link SYNC_PATH}, and the answer goes behind those
   * bytes on the same stream. Use it instead of a sleep before checking
   * that something did *not* happen. Other requests stay queued for
   * {@link next}; keepalive pings do not get in the way.
   *
   * @param client The client connected to this session.
   * @throws {Error} When the client hung up before the request came.
   */
  async sync(
    client: { request(path: string): Promise<unknown> },
  ): Promise<void> {
    const answered = client.request(SYNC_PATH);
    const request = await this.#take(
      (r) => r.pathOneof.case === "path" && r.pathOneof.value === SYNC_PATH,
      5000,
      "sync request",
    );
    if (!request) throw new Error("The client hung up before its sync came");
    await this.send({ requestId: request.requestId, responseType: RESPONSE });
    await answered;
  }

  /** Closes the connection; closing twice is fine. */
  close(): void {
    closeQuietly(this.conn);
  }

  #take(
    accepts: (request: NanoRPCRequest) => boolean,
    timeout: number,
    what: string,
  ): Promise<NanoRPCRequest | null> {
    const at = this.#requests.findIndex(accepts);
    if (at >= 0) return Promise.resolve(this.#requests.splice(at, 1)[0]);
    if (this.#ended) return Promise.resolve(null);
    const { promise, resolve } = Promise.withResolvers<
      NanoRPCRequest | null
    >();
    const waiter = { accepts, resolve };
    this.#waiters.push(waiter);
    return within(promise, { timeout, message: what }).finally(() => {
      const i = this.#waiters.indexOf(waiter);
      if (i >= 0) this.#waiters.splice(i, 1);
    });
  }

  async #loop(): Promise<void> {
    const chunk = new Uint8Array(65536);
    try {
      for (let n; (n = await this.conn.read(chunk)) !== null;) {
        this.reads++;
        for (const request of this.#frames.push(chunk.subarray(0, n))) {
          const at = this.#waiters.findIndex((w) => w.accepts(request));
          if (at < 0) this.#requests.push(request);
          else this.#waiters.splice(at, 1)[0].resolve(request);
        }
      }
    } catch {
      // Closed by the test.
    }
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(null);
  }
}

/**
 * A TCP listener on 127.0.0.1 handing out {@link RawSession}s.
 *
 * @example
 * ```ts ignore
 * import { connect } from "../client/mod.ts";
 * import { RawServer } from "./raw_server.ts";
 *
 * await using server = new RawServer();
 * const accepted = server.accept();
 * const client = await connect(server.url, { keepalive: false });
 * const session = await accepted;
 * const call = client.request("/echo");
 * await session.answer(new Uint8Array([1]));
 * await call;
 * await client.close();
 * ```
 */
export class RawServer implements AsyncDisposable {
  /** The listener. */
  readonly listener: Deno.TcpListener;
  /** Every session accepted, in order. */
  readonly sessions: RawSession[] = [];

  /**
   * Listens at once.
   *
   * @param port The port; 0 (the default) picks a free one.
   */
  constructor(port = 0) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port });
  }

  /** The bound port. */
  get port(): number {
    return this.listener.addr.port;
  }

  /** The address as a client URL, `tcp://127.0.0.1:<port>`. */
  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /**
   * The next connection.
   *
   * @param timeout Milliseconds to wait; 5000 by default.
   * @throws {Error} When no client connects in time.
   */
  accept(timeout = 5000): Promise<RawSession> {
    const accepted = this.listener.accept().then((conn) => {
      // Small scripted writes must not wait for delayed ACKs (Nagle).
      conn.setNoDelay(true);
      const session = new RawSession(conn);
      this.sessions.push(session);
      return session;
    });
    accepted.catch(() => {}); // Closed before a client came.
    return within(accepted, { timeout, message: "connection" });
  }

  /** Stops listening, closes every session and waits for them to end. */
  async close(): Promise<void> {
    closeQuietly(this.listener);
    for (const session of this.sessions) session.close();
    await Promise.all(this.sessions.map((s) => s.done));
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
