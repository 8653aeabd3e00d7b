/**
 * Parsing of server addresses: `tcp://host:port`, `tls://host:port`,
 * `unix:///path/to.sock` and WebSocket URLs `ws://host:port/path`.
 *
 * @module
 */

/** A TCP or TLS address: a host name or IP literal and a port. */
export interface NetAddress {
  /** `"tcp"` for plain TCP, `"tls"` for TLS over TCP. */
  transport: "tcp" | "tls";
  /** Host name or IP literal, without IPv6 brackets. */
  hostname: string;
  /** Port number, 1–65535. */
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

/** Where a client connects: the result of {@link parseAddress}. */
export type Address = NetAddress | UnixAddress | WebSocketAddress;

/**
 * Parses a server address.
 *
 * Accepted forms: `tcp://host:port`, `tls://host:port` (IPv6 hosts in
 * brackets, `tcp://[::1]:7411`), `unix:///absolute/path.sock`,
 * `unix:relative/path.sock`, and WebSocket URLs `ws://host:port/path` and
 * `wss://host:port/path` (the path is the endpoint's, `/nanorpc` on
 * `deno task server --http`). A bare `host:port` means TCP.
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
  if (scheme === "tcp" || scheme === "tls") {
    return parseHostPort(address, address.slice(scheme.length + 3), scheme);
  }
  if (scheme !== undefined && !/^[a-z]+:\d+$/i.test(address)) {
    throw new TypeError(
      `Invalid address "${address}": use tcp://host:port, tls://host:port, ws://host:port/path or unix:///path`,
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

/**
 * Formats an address back into its text form.
 *
 * @param address A parsed address.
 * @returns The address as `tcp://…`, `tls://…`, `unix://…`, or the
 * WebSocket URL.
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
  if ("url" in address) return address.url;
  const host = address.hostname.includes(":")
    ? `[${address.hostname}]`
    : address.hostname;
  return `${address.transport}://${host}:${address.port}`;
}
