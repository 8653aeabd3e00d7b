/**
 * Opening the byte stream to a server: TCP, TLS or a UNIX socket, with a
 * time limit and cancellation.
 *
 * @module
 */

import { type Address, formatAddress } from "./address.ts";
import { ConnectionClosedError, NotConnectedError } from "./errors.ts";

/** TLS settings of a `tls://` address. */
export interface TlsOptions {
  /** Extra root certificates (PEM) to trust, e.g. a self-signed CA. */
  caCerts?: string[];
}

/**
 * Connects to `address` within `timeout` ms; `signal` cancels the attempt.
 * A connection that completes after the attempt was given up is closed.
 */
export async function dial(
  address: Address,
  timeout: number,
  signal: AbortSignal,
  tls: TlsOptions = {},
): Promise<Deno.Conn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  const gaveUp = new Promise<never>((_, reject) => {
    const fail = (error: Error) => reject(error);
    onAbort = () =>
      fail(new ConnectionClosedError("Client closed while connecting"));
    if (timeout > 0 && timeout < Infinity) {
      timer = setTimeout(
        () =>
          fail(
            new NotConnectedError(
              `Could not connect to ${
                formatAddress(address)
              } within ${timeout} ms; check that the server is up`,
            ),
          ),
        timeout,
      );
    }
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  gaveUp.catch(() => {});
  const attempt = open(address, tls, signal);
  try {
    return await Promise.race([attempt, gaveUp]);
  } catch (error) {
    attempt.then((conn) => conn.close(), () => {});
    if (error instanceof NotConnectedError) throw error;
    if (error instanceof ConnectionClosedError) throw error;
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new NotConnectedError(
      `Could not connect to ${formatAddress(address)}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

function open(
  address: Address,
  tls: TlsOptions,
  signal: AbortSignal,
): Promise<Deno.Conn> {
  switch (address.transport) {
    case "unix":
      return Deno.connect({ transport: "unix", path: address.path });
    case "tls":
      return openTls(address.hostname, address.port, tls);
    default:
      return Deno.connect({
        hostname: address.hostname,
        port: address.port,
        signal,
      });
  }
}

/** TLS connection with the handshake done, so a bad certificate fails here. */
async function openTls(
  hostname: string,
  port: number,
  tls: TlsOptions,
): Promise<Deno.Conn> {
  const conn = await Deno.connectTls({ hostname, port, caCerts: tls.caCerts });
  try {
    await conn.handshake();
  } catch (error) {
    conn.close();
    throw error;
  }
  return conn;
}
