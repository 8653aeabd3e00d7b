/**
 * Opening the streams that only Deno's APIs can open: TCP, TLS and UNIX
 * sockets, and serial lines. The browser build of the client (client/build_browser.ts) swaps
 * this file for _dial_browser.ts, so the bundle holds nothing Deno-only.
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import { connStream } from "../transport/conn.ts";
import { openSerial } from "../transport/serial.ts";
import type { NetAddress, SerialAddress, UnixAddress } from "./address.ts";
import type { TlsOptions } from "./options.ts";

/** The addresses {@link openNative} opens. */
export type NativeAddress = NetAddress | UnixAddress | SerialAddress;

/**
 * Whether `error` is a missing permission, which no retry can fix. False
 * where there is no `Deno` (this file in a browser bundle made without
 * client/build_browser.ts's swap).
 */
export function isPermissionError(error: unknown): error is Error {
  return typeof Deno !== "undefined" &&
    error instanceof Deno.errors.NotCapable;
}

/**
 * Opens a TCP, TLS or UNIX socket or a serial line; an abort of `signal`
 * cancels it.
 */
export async function openNative(
  address: NativeAddress,
  tls: TlsOptions,
  signal: AbortSignal,
): Promise<ByteStream> {
  switch (address.transport) {
    case "unix": {
      // Takes no signal, but a UNIX connect succeeds or fails at once.
      const conn = await Deno.connect({
        transport: "unix",
        path: address.path,
      });
      return connStream(conn, "unix");
    }
    case "serial":
      // Takes no signal: stty and the open finish at once.
      return await openSerial(address.path, { baud: address.baud });
    case "tls": {
      const conn = await openTls(address.hostname, address.port, tls, signal);
      return connStream(conn, "tls");
    }
    default: {
      const conn = await Deno.connect({
        hostname: address.hostname,
        port: address.port,
        signal,
      });
      return connStream(conn, "tcp");
    }
  }
}

/**
 * TLS connection with the handshake done, so a bad certificate fails here.
 * TCP first (it takes the signal), then TLS over it; an abort closes the
 * TLS connection, which makes the handshake reject and frees the attempt.
 * (Deno 2.9 still holds the OS socket of an unfinished handshake inside the
 * runtime until the handshake ends on the server's side; nothing JavaScript
 * holds keeps the process alive.)
 */
async function openTls(
  hostname: string,
  port: number,
  tls: TlsOptions,
  signal: AbortSignal,
): Promise<Deno.Conn> {
  const tcp = await Deno.connect({ hostname, port, signal });
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.startTls(tcp, { hostname, caCerts: tls.caCerts });
  } catch (error) {
    closeQuietly(tcp);
    throw error;
  }
  const abort = () => closeQuietly(conn);
  signal.addEventListener("abort", abort, { once: true });
  try {
    signal.throwIfAborted();
    await conn.handshake();
  } catch (error) {
    closeQuietly(conn);
    throw error;
  } finally {
    signal.removeEventListener("abort", abort);
  }
  return conn;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
