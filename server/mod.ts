/**
 * The NanoRPC server: listeners, sessions, router, topics, groups,
 * middleware and nano-style components.
 *
 * @module
 */

export { type Broker, type BrokerMessage, InProcessBroker } from "./broker.ts";
export {
  type ComponentHooks,
  componentName,
  type ComponentOptions,
} from "./component.ts";
export { Context, type ContextKind, type Middleware } from "./context.ts";
export { Group } from "./group.ts";
export {
  DEFAULT_PORT,
  type Listener,
  type ListenOptions,
  type TcpListenOptions,
  type TlsListenOptions,
  type UnixListenOptions,
} from "./listener.ts";
export { leveledLogger, type Logger, type LogLevel } from "./logger.ts";
export {
  type HandleOptions,
  type Handler,
  type HandlerResult,
  type Route,
  Router,
} from "./router.ts";
export {
  type HandshakeInfo,
  type RequestCodec,
  Server,
  type ServerOptions,
  type ServerStats,
  SessionEvent,
} from "./server.ts";
export { Session, type Transport } from "./session.ts";
export {
  type Subscription as TopicSubscription,
  Topic,
  type TopicFilter,
  type TopicOptions,
  type TypedTopicOptions,
} from "./topic.ts";
export {
  type HandlerSchemas,
  type TypedHandler,
  typedHandler,
} from "./typed.ts";
