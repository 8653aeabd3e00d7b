/**
 * The byte-stream seam and its adapters: every transport a session or a
 * client speaks NanoRPC over is one adapter of {@link ByteStream}.
 *
 * @example
 * ```ts ignore
 * import { connStream } from "@nanorpc/nanorpc/transport";
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * const conn = await Deno.connect({ port: 9000 });
 * await server.serve(connStream(conn, "tcp"));
 * ```
 *
 * @module
 */

export {
  type ByteStream,
  formatPeer,
  type PeerAddress,
} from "./byte_stream.ts";
export { connStream } from "./conn.ts";
export {
  nodeSocketStream,
  type NodeSocketStreamOptions,
} from "./node_socket.ts";
export {
  openSerial,
  quietGap,
  type QuietGapOptions,
  SERIAL_BAUD_RATES,
  type SerialOptions,
  type SerialStream,
} from "./serial.ts";
export {
  type SerialWatch,
  watchSerial,
  type WatchSerialOptions,
} from "./watch_serial.ts";
export {
  type StreamPair,
  webStreamPair,
  type WebStreamPairOptions,
} from "./web_streams.ts";
export {
  CLOSE_TOO_BIG,
  CLOSE_UNSUPPORTED_DATA,
  type WebSocketByteStream,
  type WebSocketStats,
  websocketStream,
  type WebSocketStreamOptions,
} from "./websocket.ts";
export { openWebSocket, type OpenWebSocketOptions } from "./open_websocket.ts";
