/**
 * Parsing of server addresses: `tcp://host:port`, `tls://host:port`,
 * `unix:///path/to.sock`, WebSocket URLs `ws://host:port/path` and serial
 * lines `serial:///dev/ttyUSB0?baud=115200`.
 *
 * @module
 */

import { SERIAL_BAUD_RATES } from "../transport/_baud_rates.ts";
import type { ByteStream } from "../transport/byte_stream.ts";

/** A TCP or TLS address: a host name or IP literal and a port. */
export interface NetAddress {
  /** `"tcp"` for plain TCP, `"tls"` for TLS over TCP. */
  transport: "tcp" | "tls";
  /** Host name or IP literal, without IPv6 brackets. */
  hostname: string;
  /** Port number, 1-65535. */
  port: number;
}

/** A UNIX domain socket address. */
export interface UnixAddress {
  /** Always `"unix"`. */
  transport: "unix";
  /** File system path of the socket. */
  path: string;
}

/** A WebSocket endpoint: `ws://` or `wss://` (WebSocket over TLS). */
export interface WebSocketAddress {
  /** `"ws"`, or `"wss"` for TLS. */
  transport: "ws" | "wss";
  /** The endpoint's whole URL, e.g. `ws://127.0.0.1:8080/nanorpc`. */
  url: string;
}

/** A serial line (a UART, an RS-232 or RS-485 adapter, a pty). */
export interface SerialAddress {
  /** Always `"serial"`. */
  transport: "serial";
  /** The device, e.g. `/dev/ttyUSB0`. */
  path: string;
  /** Bits per second; 115200 unless the address says `?baud=`. */
  baud: number;
}

/**
 * Opens one byte stream to the server: a client built on it calls it for
 * the first connection and again for every reconnection. It should give
 * up when `signal` aborts (the client closed, or the connect timeout
 * passed); a stream it returns after that is closed at once.
 */
export type StreamDialer = (
  signal: AbortSignal,
) => ByteStream | Promise<ByteStream>;

/**
 * Any link the client cannot name: a pair of web streams, a child
 * process's stdio, a custom transport. `new Client(dial)` and
 * `connect(dial)` make one from a {@link StreamDialer}.
 */
export interface StreamAddress {
  /** Always `"stream"`. */
  transport: "stream";
  /** Opens a stream, for the first connection and each reconnection. */
  dial: StreamDialer;
  /** What to call the link in messages; `"stream"` by default. */
  name?: string;
}

/** Where a client connects: the result of {@link parseAddress}, or a dialer. */
export type Address =
  | NetAddress
  | UnixAddress
  | WebSocketAddress
  | SerialAddress
  | StreamAddress;

/**
 * Parses a server address.
 *
 * Accepted forms: `tcp://host:port`, `tls://host:port` (IPv6 hosts in
 * brackets, `tcp://[::1]:7411`), `unix:///absolute/path.sock`,
 * `unix:relative/path.sock`, and WebSocket URLs `ws://host:port/path` and
 * `wss://host:port/path` (the path is the endpoint's, `/nanorpc` on
 * `deno task server --http`), and serial lines `serial:///dev/ttyUSB0` with
 * an optional `?baud=9600` (115200 by default). A bare `host:port` means
 * TCP.
 *
 * @param address The address text.
 * @returns The parsed address.
 * @throws {TypeError} When the address has an unknown scheme, no port, or a
 * port out of range.
 *
 * @example
 * ```ts
 * import { parseAddress } from "@nanorpc/nanorpc";
 *
 * parseAddress("tcp://127.0.0.1:7411");
 * // { transport: "tcp", hostname: "127.0.0.1", port: 7411 }
 * parseAddress("unix:///tmp/nanorpc.sock");
 * // { transport: "unix", path: "/tmp/nanorpc.sock" }
 * parseAddress("ws://127.0.0.1:8080/nanorpc");
 * // { transport: "ws", url: "ws://127.0.0.1:8080/nanorpc" }
 * parseAddress("serial:///dev/ttyUSB0?baud=9600");
 * // { transport: "serial", path: "/dev/ttyUSB0", baud: 9600 }
 * ```
 */
export function parseAddress(address: string): Address {
  const scheme = /^([a-z]+):/i.exec(address)?.[1]?.toLowerCase();
  if (scheme === "unix") {
    let path = address.slice("unix:".length);
    if (path.startsWith("//")) path = path.slice(2);
    if (path === "") {
      throw new TypeError(
        `Invalid address "${address}": give a socket path, e.g. unix:///tmp/nanorpc.sock`,
      );
    }
    return { transport: "unix", path: decodeURIComponent(path) };
  }
  if (scheme === "ws" || scheme === "wss") return parseWebSocket(address);
  if (scheme === "serial") return parseSerial(address);
  if (scheme === "tcp" || scheme === "tls") {
    return parseHostPort(address, address.slice(scheme.length + 3), scheme);
  }
  if (scheme !== undefined && !/^[a-z]+:\d+$/i.test(address)) {
    throw new TypeError(
      `Invalid address "${address}": use tcp://host:port, tls://host:port, ws://host:port/path, unix:///path or serial:///dev/ttyUSB0?baud=115200`,
    );
  }
  return parseHostPort(address, address, "tcp");
}

function parseHostPort(
  address: string,
  rest: string,
  transport: "tcp" | "tls",
): NetAddress {
  const match = /^(?:\[([^\]]+)\]|([^:/\[\]]*)):(\d{1,5})\/?$/.exec(rest);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new TypeError(
      `Invalid address "${address}": give a host and a port 1-65535, e.g. ${transport}://127.0.0.1:7411`,
    );
  }
  const hostname = match[1] ?? (match[2] || "127.0.0.1");
  return { transport, hostname, port };
}

function parseWebSocket(address: string): WebSocketAddress {
  let url: URL | undefined;
  try {
    url = new URL(address);
  } catch {
    // Reported below.
  }
  if (!url?.hostname || url.hash) {
    throw new TypeError(
      `Invalid address "${address}": give a host, an optional port and the endpoint's path, without a #fragment, e.g. ws://127.0.0.1:8080/nanorpc`,
    );
  }
  return { transport: url.protocol === "wss:" ? "wss" : "ws", url: url.href };
}

function parseSerial(address: string): SerialAddress {
  let rest = address.slice("serial:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  const match = /^([^?#]+)(?:\?baud=(\d+))?$/.exec(rest);
  const baud = Number(match?.[2] ?? 115200);
  if (!match || !(baud > 0)) {
    throw new TypeError(
      `Invalid address "${address}": give a device path and an optional baud rate, e.g. serial:///dev/ttyUSB0?baud=115200`,
    );
  }
  if (!SERIAL_BAUD_RATES.includes(baud)) {
    throw new TypeError(
      `Invalid address "${address}": baud rate ${baud} is not one a serial line can have; use one of ${
        SERIAL_BAUD_RATES.join(", ")
      }`,
    );
  }
  return { transport: "serial", path: decodeURIComponent(match[1]), baud };
}

/**
 * The address a client connects to: text is parsed with
 * {@link parseAddress}, a {@link StreamDialer} becomes a
 * {@link StreamAddress}, and an address object is taken as it is.
 *
 * @param address Text, an address object, or a dialer.
 * @returns The address object.
 * @throws {TypeError} When the text cannot be parsed.
 *
 * @example
 * ```ts
 * import { toAddress } from "@nanorpc/nanorpc/client";
 *
 * toAddress("serial:///dev/ttyUSB0"); // { transport: "serial", path: "/dev/ttyUSB0", baud: 115200 }
 * ```
 */
export function toAddress(address: string | Address | StreamDialer): Address {
  if (typeof address === "string") return parseAddress(address);
  if (typeof address === "function") {
    return { transport: "stream", dial: address };
  }
  return address;
}

/**
 * Formats an address back into its text form.
 *
 * @param address A parsed address.
 * @returns The address as `tcp://...`, `tls://...`, `unix://...`,
 * `serial://...?baud=...`, the WebSocket URL, or a stream's name.
 *
 * @example
 * ```ts
 * import { formatAddress } from "@nanorpc/nanorpc";
 *
 * formatAddress({ transport: "tcp", hostname: "::1", port: 7411 });
 * // "tcp://[::1]:7411"
 * ```
 */
export function formatAddress(address: Address): string {
  if (address.transport === "unix") return `unix://${address.path}`;
  if (address.transport === "serial") {
    return `serial://${address.path}?baud=${address.baud}`;
  }
  if (address.transport === "stream") return address.name ?? "stream";
  if ("url" in address) return address.url;
  const host = address.hostname.includes(":")
    ? `[${address.hostname}]`
    : address.hostname;
  return `${address.transport}://${host}:${address.port}`;
}
