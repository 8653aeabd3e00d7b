/**
 * The NanoRPC server: listeners, sessions, topics, groups, middleware and
 * nano-style components, over any byte stream.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * const listener = await server.listen({ port: 0 });
 * console.log(`listening on ${listener.url}`);
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { type Broker, type BrokerMessage, InProcessBroker } from "./broker.ts";
export {
  type ComponentHooks,
  componentName,
  type ComponentOptions,
} from "./component.ts";
export {
  compose,
  type Context,
  type ContextKind,
  type Middleware,
} from "./context.ts";
export type {
  ForwardCallOptions,
  ForwardedAnswer,
  ForwardedCall,
  Forwarder,
  ForwardHost,
  ServedRoutes,
  SessionOp,
  SessionSnapshot,
} from "./forward.ts";
export type { Group } from "./group.ts";
export type { HandleOptions, Handler, HandlerResult } from "./handler.ts";
export {
  DEFAULT_PORT,
  type Listener,
  type ListenOptions,
  type TcpListenOptions,
  type TlsListenOptions,
  type UnixListenOptions,
} from "./listener.ts";
export {
  DEFAULT_WEBSOCKET_PATH,
  httpHandler,
  type HttpHandlerOptions,
  type HttpRoute,
  type OriginPolicy,
  type RequestInfo,
  websocketHandler,
  type WebSocketHandlerOptions,
} from "./http.ts";
export {
  DEFAULT_HTTP_PORT,
  type HttpListenOptions,
  type HttpServeOptions,
} from "./http_listener.ts";
export { leveledLogger, type Logger, type LogLevel } from "./logger.ts";
export {
  METRICS_CONTENT_TYPE,
  metricsHandler,
  type MetricsSource,
} from "./metrics.ts";
export type { DrainOptions } from "./drain.ts";
export type {
  OperationsOptions,
  RateLimit,
  ResumeBufferOptions,
  SessionRateLimit,
} from "./ops_options.ts";
export { currentTraceparent, withTraceparent } from "./tracing.ts";
export {
  type HandshakeInfo,
  type ServeOptions,
  type ServerEventMap,
  type ServerOptions,
  SessionEvent,
} from "./options.ts";
export { fileDescriptorSet } from "./reflection.ts";
export { serveSerial, type ServeSerialOptions } from "./serial.ts";
export type { ByteStream, PeerAddress } from "../transport/byte_stream.ts";
export type { SerialOptions, SerialStream } from "../transport/serial.ts";
export type { WebSocketStats } from "../transport/websocket.ts";
export type {
  SerialWatch,
  WatchSerialOptions,
} from "../transport/watch_serial.ts";
export { Server } from "./server.ts";
// What handlers and middleware throw to answer with a status.
export {
  InternalError,
  NanoRpcError,
  type NanoRpcErrorOptions,
  NotAuthorizedError,
  NotFoundError,
} from "../protocol/errors.ts";
export { Status } from "../wasm/wire.ts";
export type {
  MethodNames,
  ServeService,
  ServiceImpl,
  ServiceOptions,
  ServiceRegistration,
  StreamingMethodImpl,
} from "./service.ts";
export type { Session, Transport } from "./session.ts";
export type { ServerStats } from "./stats.ts";
export type {
  Topic,
  TopicFilter,
  TopicOptions,
  TypedTopicOptions,
} from "./topic.ts";
export {
  type HandlerSchemas,
  type TypedHandler,
  typedHandler,
} from "./typed.ts";
