/**
 * Opening the byte stream to a server: TCP, TLS or a UNIX socket, with a
 * time limit and cancellation.
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import { connStream } from "../transport/conn.ts";
import { type Address, formatAddress } from "./address.ts";
import { ConnectionClosedError, NotConnectedError } from "./errors.ts";
import { clampDelay } from "./_timer.ts";

/** TLS settings of a `tls://` address. */
export interface TlsOptions {
  /** Extra root certificates (PEM) to trust, e.g. a self-signed CA. */
  caCerts?: string[];
}

/** How one connection attempt is bounded. */
export interface DialOptions extends TlsOptions {
  /** Milliseconds the attempt may take; 0 or `Infinity` for no limit. */
  timeout: number;
  /** Aborts when the client closes: the attempt is cancelled. */
  signal: AbortSignal;
}

/**
 * Connects to `address`. The attempt gets its own signal (the client's,
 * combined with the time limit) and is cancelled by it at every step: the
 * TCP connect takes the signal, and a TLS handshake in progress is stopped
 * by closing its socket. It settles only once the attempt is over, so no
 * socket outlives a failed or cancelled attempt.
 *
 * @throws {ConnectionClosedError} When `signal` aborted.
 * @throws {NotConnectedError} When the attempt failed or ran out of time.
 */
export async function dial(
  address: Address,
  options: DialOptions,
): Promise<ByteStream> {
  const { timeout, signal: closed } = options;
  const signal = timeout > 0 && timeout < Infinity
    ? AbortSignal.any([closed, AbortSignal.timeout(clampDelay(timeout))])
    : closed;
  try {
    signal.throwIfAborted();
    const stream = await open(address, options, signal);
    if (signal.aborted) {
      stream.close();
      signal.throwIfAborted();
    }
    return stream;
  } catch (error) {
    if (closed.aborted) {
      throw new ConnectionClosedError("Client closed while connecting");
    }
    const where = formatAddress(address);
    if (signal.aborted) {
      throw new NotConnectedError(
        `Could not connect to ${where} within ${timeout} ms; check that the server is up`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new NotConnectedError(`Could not connect to ${where}: ${reason}`, {
      cause: error,
    });
  }
}

async function open(
  address: Address,
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
