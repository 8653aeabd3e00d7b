/**
 * Test kit: a raw NanoRPC client for server tests. It writes request
 * frames and reads response frames through protobuf-es, not through the
 * project's codec, so a server test checks the wire.
 *
 * @module
 */

import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import { closeQuietly, writeAll } from "./conn.ts";
import {
  FrameSplitter,
  type NanoRPCResponse,
  requestFrame,
  type RequestInit,
} from "./frames.ts";
import { realClearTimeout, realSetTimeout } from "./_real_time.ts";

/**
 * A connection that speaks NanoRPC by hand. Every read has a time limit,
 * so a server that never answers fails the test instead of hanging it.
 *
 * @example
 * ```ts ignore
 * import { RawClient } from "./raw_client.ts";
 * import { PING } from "./frames.ts";
 *
 * using peer = await RawClient.connect({
 *   transport: "tcp",
 *   hostname: "127.0.0.1",
 *   port: 7411,
 * });
 * const pong = await peer.call({ requestId: 1, requestType: PING });
 * ```
 */
export class RawClient implements Disposable {
  /** The socket, for tests that need the bytes themselves. */
  readonly conn: Deno.Conn;
  readonly #frames = new FrameSplitter(NanoRPCResponseSchema);
  readonly #responses: NanoRPCResponse[] = [];

  /**
   * Wraps an open connection.
   *
   * @param conn A TCP or UNIX socket connection to a NanoRPC server.
   */
  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /**
   * Connects to a server's TCP or UNIX socket address.
   *
   * @param addr A listener's address, e.g. `Listener.addr`.
   * @returns The connected client.
   */
  static async connect(addr: Deno.Addr): Promise<RawClient> {
    if (addr.transport === "unix" || addr.transport === "unixpacket") {
      return new RawClient(
        await Deno.connect({ transport: "unix", path: addr.path }),
      );
    }
    const { hostname, port } = addr as Deno.NetAddr;
    const conn = await Deno.connect({ hostname, port });
    // Small scripted writes must not wait for delayed ACKs (Nagle).
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  /** Writes raw bytes, whole. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Writes one request frame. */
  send(init: RequestInit): Promise<void> {
    return this.write(requestFrame(init));
  }

  /**
   * Reads the next response frame.
   *
   * @param timeout Milliseconds to wait; 5000 by default. On expiry the
   * connection is closed.
   * @throws {Error} When the server closes first or the time runs out.
   */
  async read(timeout = 5000): Promise<NanoRPCResponse> {
    const timer = realSetTimeout(() => closeQuietly(this.conn), timeout);
    try {
      const chunk = new Uint8Array(65536);
      while (this.#responses.length === 0) {
        let n: number | null;
        try {
          n = await this.conn.read(chunk);
        } catch (error) {
          throw new Error(`No response within ${timeout} ms`, {
            cause: error,
          });
        }
        if (n === null) throw new Error("The server closed the connection");
        this.#responses.push(...this.#frames.push(chunk.subarray(0, n)));
      }
      return this.#responses.shift()!;
    } finally {
      realClearTimeout(timer);
    }
  }

  /** Sends a request and reads the next response. */
  async call(init: RequestInit): Promise<NanoRPCResponse> {
    await this.send(init);
    return await this.read();
  }

  /**
   * Reads and discards until the server closes the connection.
   *
   * @param timeout Milliseconds to wait; 5000 by default.
   * @returns `true` if the server closed it in time, `false` if not (the
   * connection is closed then).
   */
  async closedByServer(timeout = 5000): Promise<boolean> {
    const timer = realSetTimeout(() => closeQuietly(this.conn), timeout);
    try {
      const chunk = new Uint8Array(65536);
      while ((await this.conn.read(chunk)) !== null);
      return true;
    } catch {
      return false;
    } finally {
      realClearTimeout(timer);
    }
  }

  /** Closes the connection; closing twice is fine. */
  close(): void {
    closeQuietly(this.conn);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
