/**
 * The server: listeners accept sessions; handlers, topics, groups,
 * middleware and components say what the sessions get.
 *
 * @module
 */

import type { DescMessage } from "@bufbuild/protobuf";
import { ListenerGuard } from "../protocol/_listener_guard.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import { fnv1a } from "../wasm/wire.ts";
import { componentHandlers, type ComponentOptions } from "./component.ts";
import { Admission } from "./_admission.ts";
import { createCore } from "./_create_core.ts";
import type { DrainOptions } from "./drain.ts";
import { drainOver, drainWindow } from "./_drain.ts";
import { ForwardNode } from "./_forward_host.ts";
import type { Middleware } from "./context.ts";
import { checkedMiddleware } from "./_invoke.ts";
import { errorMessage, publish, type ServerCore } from "./_core.ts";
import type { Group } from "./group.ts";
import { GroupImpl } from "./_group.ts";
import type { HandleOptions, Handler } from "./handler.ts";
import type { Listener, ListenOptions } from "./listener.ts";
import { Lifecycle } from "./_lifecycle.ts";
import { renderMetrics } from "./_metrics_text.ts";
import { ReadonlyMapView } from "./_readonly_map.ts";
import {
  type ServeOptions,
  type ServerEventMap,
  type ServerOptions,
  SessionEvent,
} from "./options.ts";
import { PathCatalog } from "./reflection.ts";
import type { ServeService } from "./service.ts";
import type { Session } from "./session.ts";
import type { ServerStats } from "./stats.ts";
import type { Topic, TopicOptions, TypedTopicOptions } from "./topic.ts";
import { TopicImpl, typedTopicOptions } from "./_topic.ts";
import {
  type HandlerSchemas,
  type TypedHandler,
  typedHandler,
} from "./typed.ts";

const EMPTY = new Uint8Array(0);

/**
 * A NanoRPC server.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * const listener = await server.listen({ port: 0 });
 * console.log(`listening on ${listener.url}`);
 * await server.shutdown();
 * ```
 */
export class Server extends EventTarget implements AsyncDisposable {
  #core: ServerCore;
  #life: Lifecycle;
  #started?: Promise<void>;
  #stopping?: Promise<void>;
  #admission: Admission;
  #catalog = new PathCatalog();
  #sessions?: ReadonlyMap<number, Session>;
  #guard = new ListenerGuard((err, type) =>
    this.#core.logger.error(`a ${type} listener threw: ${errorMessage(err)}`)
  );
  /** Largest frame a session accepts, in bytes (`maxMessageSize`). */
  readonly maxMessageSize: number;
  /** Time limit of async handlers in ms, 0 for none (`handlerTimeout`). */
  readonly handlerTimeout: number;
  /** Ms a session may stay silent before it is closed, 0: never. */
  readonly idleTimeout: number;

  /** Creates a server; nothing listens until {@link listen}. */
  constructor(options: ServerOptions = {}) {
    super();
    this.#core = createCore(options, (session, reason) => {
      this.dispatchEvent(new SessionEvent("sessionclose", session, reason));
    });
    this.#life = new Lifecycle(this.#core, options);
    this.maxMessageSize = this.#core.limits.maxMessageSize;
    this.handlerTimeout = this.#core.limits.handlerTimeout;
    this.idleTimeout = options.idleTimeout ?? 0;
    if (options.forward) {
      this.#core.forward = new ForwardNode(this.#core, options.forward);
    }
    this.#admission = new Admission(
      this.#core,
      options,
      () => this.#stopping !== undefined,
      (session) => this.dispatchEvent(new SessionEvent("sessionopen", session)),
    );
    if (options.reflection ?? true) this.#catalog.serve(this);
  }

  /**
   * Registers a handler at `path`. The typed form decodes the request data
   * with `schemas.input` and encodes the result with `schemas.output`.
   *
   * @throws {Error} when `path` already has a handler, or its hash collides
   * with another registered path.
   */
  handle(path: string, handler: Handler, options?: HandleOptions): this;
  /** Registers a handler typed by protobuf-es schemas at `path`. */
  handle<I extends DescMessage, O extends DescMessage>(
    path: string,
    schemas: HandlerSchemas<I, O>,
    handler: TypedHandler<I, O>,
    options?: HandleOptions,
  ): this;
  handle<I extends DescMessage, O extends DescMessage>(
    path: string,
    handlerOrSchemas: Handler | HandlerSchemas<I, O>,
    typedOrOptions?: TypedHandler<I, O> | HandleOptions,
    options?: HandleOptions,
  ): this {
    const route = this.#core.router.route(path);
    if (route.handler) {
      throw new Error(`A handler is already registered at ${path}`);
    }
    if (typeof handlerOrSchemas === "function") {
      route.handler = handlerOrSchemas;
      route.options = (typedOrOptions as HandleOptions | undefined) ?? {};
    } else {
      route.handler = typedHandler(
        handlerOrSchemas,
        typedOrOptions as TypedHandler<I, O>,
      );
      route.options = options ?? {};
    }
    this.#catalog.request(path, handlerOrSchemas);
    this.#core.forward?.routesChanged();
    return this;
  }

  /**
   * Registers a topic at `path` that sessions may subscribe to. With
   * `filterSchema` and `updateSchema`, filters and updates are decoded
   * protobuf messages.
   *
   * @throws {Error} when `path` already has a topic or its hash collides.
   */
  topic<F extends DescMessage, U extends DescMessage>(
    path: string,
    options: TypedTopicOptions<F, U>,
  ): Topic;
  /** Registers a topic with raw or custom-decoded filters and updates. */
  topic<F = Uint8Array, U = Uint8Array>(
    path: string,
    options?: TopicOptions<F, U>,
  ): Topic;
  topic(
    path: string,
    options:
      | TopicOptions<unknown, unknown>
      | TypedTopicOptions<DescMessage, DescMessage> = {},
  ): Topic {
    const route = this.#core.router.route(path);
    if (route.topic) {
      throw new Error(`A topic is already registered at ${path}`);
    }
    const plain = "filterSchema" in options
      ? typedTopicOptions(options)
      : options;
    const { logger, stats } = this.#core;
    const topic = new TopicImpl(route, plain, logger, stats);
    route.topic = topic;
    this.#catalog.topic(path, options);
    this.#core.forward?.routesChanged();
    const channel = `topic:${path}`;
    this.#life.channels.push(
      this.#core.broker.subscribe(channel, (m) => topic.deliver(m.data)),
    );
    return topic;
  }

  /** Serves every method of a protobuf-es service; see {@link ServeService}. */
  readonly service: ServeService = (...a) =>
    this.#catalog.register(this, this.#core.logger, ...a);

  /**
   * Adds middleware, run in registration order around every request
   * handler and every SUBSCRIBE (a TypeError if one is not a function).
   */
  use(...middleware: Middleware[]): this {
    this.#core.middleware.push(...checkedMiddleware(middleware));
    return this;
  }

  /**
   * Registers a component (nano style): each public method becomes a
   * handler at `/<name>/<method>`; its lifecycle hooks run with the
   * server's.
   */
  register(component: object, options: ComponentOptions = {}): this {
    for (const [path, handler] of componentHandlers(component, options)) {
      this.handle(path, handler, options.handle);
    }
    this.#life.addComponent(component, options.name);
    return this;
  }

  /**
   * Publishes `data` to every subscriber of the topic at `path` (in every
   * process sharing the broker). `data` is copied.
   *
   * @throws {Error} when no topic is registered at `path`.
   */
  publish(path: string, data: Uint8Array): void {
    if (this.#core.router.lookup(fnv1a(path))?.topic?.path !== path) {
      throw new Error(
        `No topic at ${path}: register it with server.topic() first`,
      );
    }
    publish(this.#core, `topic:${path}`, { path, data: data.slice() });
  }

  /**
   * Pushes `data` to the subscriptions to `path` of the session bound to
   * `uid`, wherever it is connected (through the broker).
   */
  pushTo(uid: string, path: string, data: Uint8Array): void {
    publish(this.#core, `uid:${uid}`, { path, data: data.slice() });
  }

  /**
   * Closes the session bound to `uid`, wherever it is connected (through
   * the broker), with `reason`.
   */
  kick(uid: string, reason = "kicked by the server"): void {
    publish(this.#core, `uid:${uid}`, { path: "", data: EMPTY, kick: reason });
  }

  /** The group called `name`, created on first use. */
  group(name: string): Group {
    let group = this.#core.groups.get(name);
    if (!group) {
      this.#core.groups.set(name, group = new GroupImpl(this.#core, name));
    }
    return group;
  }

  /** Open sessions of this server, by id: a live, read-only view. */
  get sessions(): ReadonlyMap<number, Session> {
    return this.#sessions ??= new ReadonlyMapView(this.#core.sessions);
  }

  /**
   * The session of this server bound to `uid` with `session.bind`, if any.
   * To reach a uid on any server sharing the broker, use {@link pushTo} or
   * {@link kick}.
   */
  sessionByUid(uid: string): Session | undefined {
    return this.#core.uids.get(uid);
  }

  /** The listeners still accepting (not closed, drained or shut down). */
  get listeners(): readonly Listener[] {
    return this.#life.listeners;
  }

  /** A snapshot of the server's counters. */
  stats(): ServerStats {
    return { ...this.#core.stats, brokerDropped: this.#core.broker.dropped };
  }

  /** The metrics in the Prometheus text format (see `metricsHandler`). */
  metrics(): string {
    return renderMetrics(this.#core, this.stats());
  }

  /**
   * Moves every session off this server over `options.window` ms (see
   * {@link DrainOptions}); by default it stops accepting first. Resolves
   * when the last one is closed; call `shutdown()` afterwards to stop.
   */
  async drain(options: DrainOptions = {}): Promise<void> {
    drainWindow(options); // A bad window changes nothing.
    if (options.stopAccepting ?? true) {
      this.#core.ops.refuseAll = true;
      await this.#life.closeListeners();
    }
    await drainOver(this.#core, options);
  }

  /**
   * Binds a listener and starts accepting sessions on it. The first call
   * runs the components' `init` and `afterInit` hooks. Like `serve`, it
   * first waits for the npm packages that typed registrations (protobuf-es)
   * and tracing (`@opentelemetry/api`) load on first use.
   *
   * @param options TCP (`hostname`, `port`), TLS (plus `cert`, `key`), UNIX
   * (`path`, `mode`) or HTTP (`http`). Default: TCP on 127.0.0.1:7411.
   * @returns The bound listener, with the real address; its `close()`
   * stops accepting there alone.
   */
  async listen(options: ListenOptions = {}): Promise<Listener> {
    if (this.#stopping) throw new Error("Server is shutting down");
    await this.#core.ops.loading();
    await (this.#started ??= this.#life.start());
    return await this.#life.listen(
      options,
      () => this.#stopping !== undefined,
      (stream) => this.#admission.serve(stream),
    );
  }

  /**
   * Stops gracefully: closes the listeners (removing UNIX socket files),
   * runs `beforeShutdown` hooks, stops reading, lets in-flight handlers
   * finish (up to `shutdownTimeout`), flushes and closes every session,
   * closes groups and releases broker channels, then runs `shutdown` hooks.
   * Each hook gets up to `shutdownTimeout` too; one that throws, or is
   * still running then, is logged and the shutdown goes on.
   */
  shutdown(): Promise<void> {
    return this.#stopping ??= this.#life.stop();
  }

  /** Same as {@link shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /**
   * Serves a session over `stream` until it ends: a peer that came over a
   * transport the server does not listen on itself (a WebSocket upgraded
   * by your HTTP server, a serial line, a pair of web streams). The limits,
   * the handshake hook and shutdown apply as to any session.
   *
   * @param stream The peer's byte stream; the session closes it.
   * @param options How malformed frames are handled.
   * @returns A promise that settles when the session has ended.
   *
   * @example
   * ```ts ignore
   * import { Server } from "@nanorpc/nanorpc/server";
   * import { webStreamPair } from "@nanorpc/nanorpc/transport";
   *
   * const server = new Server();
   * server.handle("/echo", (ctx) => ctx.data);
   * await server.serve(webStreamPair({ readable: Deno.stdin.readable, writable: Deno.stdout.writable }));
   * ```
   */
  async serve(stream: ByteStream, options: ServeOptions = {}): Promise<void> {
    await this.#core.ops.loading();
    await (this.#started ??= this.#life.start());
    await this.#admission.serve(stream, options);
  }

  /**
   * Adds a listener (`sessionopen`, `sessionclose` get a
   * {@link SessionEvent}). One that throws, or whose promise rejects, is
   * logged as an error; the server and the other listeners go on.
   *
   * @param type The event name.
   * @param listener The listener.
   * @param options Standard listener options.
   */
  override addEventListener<K extends keyof ServerEventMap>(
    type: K,
    listener: (this: Server, event: ServerEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds a listener for any event name; guarded the same way. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    const wrapped = this.#guard.wrap(type, listener, options);
    super.addEventListener(type, wrapped, options);
  }

  /** Removes a listener added with {@link addEventListener}. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const wrapped = this.#guard.unwrap(type, listener, options);
    super.removeEventListener(type, wrapped, options);
  }
}
