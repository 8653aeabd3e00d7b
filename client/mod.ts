/**
 * The NanoRPC client: a reconnecting client for TCP, TLS, UNIX sockets and
 * WebSockets with requests, typed calls, pings and subscriptions that
 * survive reconnects.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc";
 *
 * await using client = await connect("tcp://127.0.0.1:7411");
 * const { data } = await client.request("/echo", new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode(data));
 * ```
 *
 * @module
 */

export { Client, type ClientState } from "./client.ts";
export { connect } from "./connect.ts";
export type {
  CallOptions,
  ClientOptions,
  KeepaliveOptions,
  ReconnectOptions,
  RequestOptions,
  RpcResponse,
  TlsOptions,
} from "./options.ts";
export type {
  ClientSubscription,
  SubscribeOptions,
  SubscriptionState,
  TypedSubscribeOptions,
} from "./subscription.ts";
export {
  type ServiceClient,
  serviceClient,
  type StreamingClientMethod,
  type UnaryClientMethod,
} from "./service.ts";
export {
  type ClientEventMap,
  ConnectionEvent,
  type ConnectionEventType,
} from "./events.ts";
export {
  ClientError,
  ConnectionClosedError,
  ConnectionLostError,
  errorFromStatus,
  InternalError,
  NanoRpcError,
  NotAuthorizedError,
  NotConnectedError,
  NotFoundError,
  ProtocolError,
  TimeoutError,
} from "./errors.ts";
export {
  type Address,
  formatAddress,
  type NetAddress,
  parseAddress,
  type SerialAddress,
  type StreamAddress,
  type StreamDialer,
  toAddress,
  type UnixAddress,
  type WebSocketAddress,
} from "./address.ts";
export { Backoff, type BackoffOptions } from "./backoff.ts";
export type { ByteStream, PeerAddress } from "../transport/byte_stream.ts";
export { Status, statusName } from "../wasm/wire.ts";
