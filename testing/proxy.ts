/**
 * Test kit: a TCP proxy in front of a server that can cut every connection
 * through it at once, as a network failure would: both peers see their
 * connection drop, neither closed it on purpose.
 *
 * @module
 */

import { closeQuietly } from "./conn.ts";

/** A running {@link startProxy}. */
export interface Proxy extends AsyncDisposable {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** Connections through the proxy now. */
  readonly open: number;
  /** Drops every connection through the proxy; new ones still go through. */
  cut(): void;
  /** Stops accepting and drops every connection. */
  close(): Promise<void>;
}

/**
 * Listens on a free port of 127.0.0.1 and forwards every connection to
 * `target`, byte for byte.
 *
 * @param target Where to connect: a TCP address, or a UNIX socket path.
 * @returns The proxy; dispose it to stop.
 *
 * @example
 * ```ts ignore
 * import { startProxy, startServer } from "./mod.ts";
 *
 * await using t = await startServer();
 * await using proxy = await startProxy({ hostname: "127.0.0.1", port: t.tcp!.port });
 * // connect a client to tcp://127.0.0.1:${proxy.port}, then:
 * proxy.cut();
 * ```
 */
export function startProxy(
  target: { hostname: string; port: number } | { path: string },
): Promise<Proxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  /** Every connection through the proxy, both sides, from accept on. */
  const pairs = new Set<Deno.Conn[]>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch {
      // Cut, or the other side went away.
    }
  };
  const drop = (pair: Deno.Conn[]) => {
    pairs.delete(pair);
    for (const conn of pair) closeQuietly(conn);
  };
  const forward = async (pair: Deno.Conn[]) => {
    try {
      const server = "path" in target
        ? await Deno.connect({ transport: "unix", path: target.path })
        : await Deno.connect(target);
      pair.push(server);
      if (!pairs.has(pair)) return drop(pair); // Cut meanwhile.
      await Promise.all([pipe(pair[0], server), pipe(server, pair[0])]);
    } catch {
      // The server is down: the client sees its connection end.
    }
    drop(pair);
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const pair = [client];
      pairs.add(pair);
      forward(pair);
    }
  })().catch(() => {});
  const cut = () => {
    for (const pair of [...pairs]) drop(pair);
  };
  const close = async () => {
    closeQuietly(listener);
    cut();
    await accepting;
  };
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    get open() {
      return pairs.size;
    },
    cut,
    close,
    [Symbol.asyncDispose]: close,
  });
}
