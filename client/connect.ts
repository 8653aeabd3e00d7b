/**
 * Connecting: a client that is open before it is handed out.
 *
 * @module
 */

import type { Address, StreamDialer } from "./address.ts";
import { Client } from "./client.ts";
import type { ClientOptions } from "./options.ts";

/**
 * Connects to a NanoRPC server and resolves once the connection is open.
 * By default a first attempt that fails rejects (set `waitForServer` to
 * keep trying); later losses are healed by reconnecting.
 *
 * @param address `tcp://host:port`, `tls://host:port`, `unix:///path`,
 * `ws://host:port/path`, `serial:///dev/tty...?baud=N`, or a dialer.
 * @param options Timeouts, reconnection, keepalive and more.
 * @returns The connected client; close it with `close()` or `await using`.
 * @throws {NotConnectedError} When the server cannot be reached.
 * @throws {TypeError} When the address cannot be parsed.
 * @throws {RangeError} When an option is out of range.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc";
 *
 * await using client = await connect("tcp://127.0.0.1:7411");
 * const { data } = await client.request("/echo", new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode(data)); // "hi"
 * ```
 */
export async function connect(
  address: string | Address | StreamDialer,
  options: ClientOptions = {},
): Promise<Client> {
  const client = new Client(address, options);
  try {
    await client.opened;
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
