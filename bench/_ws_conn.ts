// WebSocket connections for the load generator, shaped like the part of
// Deno.Conn it uses (read, write, close), so that one closed loop drives
// TCP and WebSocket targets alike. Internal to bench/.

import { openWebSocket } from "../transport/open_websocket.ts";

/** What the load loops use of a connection. */
export type LoadConn = Pick<Deno.Conn, "read" | "write" | "close">;

/** Bytes a connection may hold unread (the loops read all the time). */
const MAX_BUFFERED_IN = 64 << 20;

/** Opens `n` WebSockets to `url`, `parallel` handshakes at a time. */
export async function connectWebSockets(
  url: string,
  n: number,
  parallel = 100,
): Promise<LoadConn[]> {
  const conns: LoadConn[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const stream = await openWebSocket(url, {
        timeout: 30_000,
        maxBufferedIn: MAX_BUFFERED_IN,
      });
      conns.push({
        read: (buffer) => stream.read(buffer),
        write: async (bytes) => {
          await stream.write(bytes);
          return bytes.length;
        },
        close: () => stream.close(),
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  } catch (err) {
    for (const conn of conns) conn.close();
    throw err;
  }
  return conns;
}
