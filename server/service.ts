/**
 * Services: a protobuf-es service descriptor (`GenService` from a
 * `*_pb.ts` file) served by `server.service(Schema, impl)`. Every method is
 * served at its `(nanorpc).request_path`, or at `/<package>.<Service>/<Method>`
 * without one: unary methods as typed request handlers, server-streaming
 * methods as topics whose SUBSCRIBE data is the method's input (the filter)
 * and whose updates are its output.
 *
 * @module
 */

import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import {
  createMessage,
  loadProtobuf,
  type Protobuf,
  protobuf,
} from "../protocol/_protobuf.ts";
import { methodPath, methodPathKind } from "../protocol/service.ts";
import { fnv1a } from "../wasm/wire.ts";
import type { HandleOptions } from "./handler.ts";
import type { Logger } from "./logger.ts";
import type { PathCatalog } from "./reflection.ts";
import type { Server } from "./server.ts";
import type { Topic, TopicFilter } from "./topic.ts";
import type { TypedHandler } from "./typed.ts";

/**
 * Local names (`send`, `messages`) of the methods of `S` whose kind is
 * `K`; any string for a service descriptor built at run time.
 *
 * @example
 * ```ts
 * import type { MethodNames } from "@nanorpc/nanorpc/server";
 * import type { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const topic: MethodNames<typeof Room, "server_streaming"> = "messages";
 * ```
 */
export type MethodNames<
  S extends DescService,
  K extends DescMethod["methodKind"],
> = string extends keyof S["method"] ? string
  :
    & {
      [N in keyof S["method"]]: S["method"][N]["methodKind"] extends K ? N
        : never;
    }[keyof S["method"]]
    & string;

/**
 * How a server-streaming method is served: a topic whose subscribers
 * send the method's input as their filter and get its output as updates.
 *
 * @example
 * ```ts
 * import type { StreamingMethodImpl } from "@nanorpc/nanorpc/server";
 * import type {
 *   ChatFilterSchema,
 *   ChatMessageSchema,
 * } from "@nanorpc/nanorpc/proto/chat";
 *
 * const messages: StreamingMethodImpl<
 *   typeof ChatFilterSchema,
 *   typeof ChatMessageSchema
 * > = { filter: (filter, msg) => msg.from === filter.from };
 * ```
 */
export interface StreamingMethodImpl<
  I extends DescMessage,
  O extends DescMessage,
> {
  /**
   * Whether a subscriber whose filter is `filter` gets `update`. Called
   * only for subscribers that sent a non-empty filter. Omit it to send
   * every update to every subscriber.
   */
  filter?: TopicFilter<MessageShape<I>, MessageShape<O>>;
}

/**
 * The implementation of service `S`: a typed handler for every unary
 * method (by its local name, e.g. `send`), and optionally a filter for
 * every server-streaming method.
 *
 * @example
 * ```ts
 * import type { ServiceImpl } from "@nanorpc/nanorpc/server";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const impl: ServiceImpl<typeof Room> = {
 *   join: (msg, ctx) => void ctx.session.set("name", msg.name),
 *   send: () => {},
 *   messages: { filter: (filter, msg) => msg.from === filter.from },
 * };
 * ```
 */
export type ServiceImpl<S extends DescService> = string extends
  keyof S["method"] ? {
    [name: string]:
      | TypedHandler<DescMessage, DescMessage>
      | StreamingMethodImpl<DescMessage, DescMessage>
      | undefined;
  }
  :
    & {
      [N in MethodNames<S, "unary">]: TypedHandler<
        S["method"][N]["input"],
        S["method"][N]["output"]
      >;
    }
    & {
      [N in MethodNames<S, "server_streaming">]?: StreamingMethodImpl<
        S["method"][N]["input"],
        S["method"][N]["output"]
      >;
    };

/**
 * Options of `server.service`.
 *
 * @example
 * ```ts
 * import type { ServiceOptions } from "@nanorpc/nanorpc/server";
 *
 * const options: ServiceOptions = { handle: { timeout: 5_000 } };
 * ```
 */
export interface ServiceOptions {
  /** How every unary method's handler runs (concurrency, time limit). */
  handle?: HandleOptions;
}

/**
 * A service registered with `server.service`: its paths, and typed
 * publishing to its server-streaming methods.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const server = new Server();
 * const room = server.service(Room, {
 *   join: () => {},
 *   send(msg) {
 *     room.publish("messages", { from: "ada", text: msg.text });
 *   },
 * });
 * console.log(room.paths.send); // "/room/send"
 * ```
 */
export interface ServiceRegistration<S extends DescService> {
  /** The service descriptor. */
  readonly service: S;
  /** The path of every method, by local name. */
  readonly paths: { readonly [N in keyof S["method"] & string]: string };
  /**
   * Publishes `update` to the subscribers of a server-streaming method
   * whose filter accepts it (in every process sharing the broker).
   * Called before `listen()`/`serve()` has resolved, while protobuf-es may
   * still be loading, it is sent (in order) once it has loaded; an update
   * that does not encode is then logged instead of thrown.
   *
   * @param method The method's local name, e.g. `"messages"`.
   * @param update The update message or its init object.
   * @throws {TypeError} When `method` is not a server-streaming method, or
   * `update` is a message of another type than the method's output.
   * @throws {Error} When `update` does not encode (a required field unset).
   */
  publish<N extends MethodNames<S, "server_streaming">>(
    method: N,
    update: MessageInitShape<S["method"][N]["output"]>,
  ): void;
  /**
   * The topic of a server-streaming method (for its subscriber count).
   *
   * @param method The method's local name.
   * @returns The topic.
   */
  topic(method: MethodNames<S, "server_streaming">): Topic;
}

/**
 * The type of `server.service`: serves every method of a protobuf-es
 * service descriptor with `impl`, and returns the registration (paths and
 * typed publishing).
 *
 * @typeParam S The service descriptor's type (`typeof Room`).
 * @param service The generated service descriptor, e.g. `Room`.
 * @param impl The handlers and filters, by method local name: an object,
 * or an instance of a class (its methods are called with it as `this`,
 * and its other members are left alone).
 * @param options How the handlers run.
 * @returns The registration.
 * @throws {TypeError} For a client- or bidi-streaming method, a missing
 * implementation or (in an object literal) an unknown one, or a
 * `(nanorpc).request_path` without a leading "/"; nothing is registered
 * then.
 * @throws {Error} When a path is already registered or its hash collides
 * with a registered path's; nothing is registered then.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const server = new Server();
 * const room = server.service(Room, {
 *   join: (msg, ctx) => void ctx.session.set("name", msg.name),
 *   send(msg, ctx) {
 *     const from = ctx.session.get<string>("name") ?? "anonymous";
 *     room.publish("messages", { from, text: msg.text });
 *   },
 *   messages: { filter: (filter, msg) => msg.from === filter.from },
 * });
 * ```
 */
export type ServeService = <S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options?: ServiceOptions,
) => ServiceRegistration<S>;

interface Plan {
  readonly method: DescMethod;
  readonly path: string;
  readonly kind: "request" | "topic";
  /** The unary method's handler, or the streaming method's `{ filter }`. */
  readonly given: unknown;
}

/**
 * `impl`'s member `name`, its own or inherited from its class, but not one
 * every object inherits (a method named `ToLocaleString` is not
 * implemented by `Object.prototype.toLocaleString`).
 */
function member(impl: object, name: string): unknown {
  for (
    let at: object | null = impl;
    at !== null && at !== Object.prototype;
    at = Object.getPrototypeOf(at)
  ) {
    if (Object.hasOwn(at, name)) return Reflect.get(impl, name);
  }
  return undefined;
}

/**
 * Checks every method of `service` (its kind, its path, its
 * implementation) before anything is registered, so that a mistake
 * registers nothing.
 */
function plan(
  service: DescService,
  impl: Record<string, unknown>,
  catalog: PathCatalog,
): Plan[] {
  const plans: Plan[] = [];
  const paths = new Map<string, string>();
  const byHash = new Map<number, string>();
  for (const method of service.methods) {
    const kind = methodPathKind(method);
    const path = methodPath(method);
    const twin = paths.get(`${kind} ${path}`);
    if (twin) {
      throw new Error(
        `${service.typeName}.${method.name} and ${twin} are both served at ${path}: give one another (nanorpc).request_path`,
      );
    }
    paths.set(`${kind} ${path}`, `${service.typeName}.${method.name}`);
    // Routes are found by hash: two of this service's paths must not share one.
    const hash = fnv1a(path);
    const same = byHash.get(hash);
    if (same !== undefined && same !== path) {
      throw new Error(
        `${service.typeName}.${method.name}'s path ${path} has the same FNV-1a hash as ${same}; give one of them another (nanorpc).request_path`,
      );
    }
    byHash.set(hash, path);
    const conflict = catalog.conflict(kind, path);
    if (conflict) {
      throw new Error(
        `Cannot serve ${service.typeName}.${method.name}: ${conflict}`,
      );
    }
    const given = member(impl, method.localName);
    if (kind === "request" && typeof given !== "function") {
      throw new TypeError(
        `The implementation of ${service.typeName} has no function "${method.localName}" for the unary method ${method.name} (${path})`,
      );
    }
    if (kind === "topic" && given !== undefined && typeof given !== "object") {
      throw new TypeError(
        `The implementation of ${service.typeName} gives "${method.localName}" as a ${typeof given}; a server-streaming method takes { filter } or nothing`,
      );
    }
    plans.push({ method, path, kind, given });
  }
  // An object literal naming no method has a typo; an instance of a class
  // may have fields and helpers beside its methods.
  const prototype = Object.getPrototypeOf(impl);
  if (prototype !== Object.prototype && prototype !== null) return plans;
  for (const name of Object.keys(impl)) {
    if (!service.methods.some((m) => m.localName === name)) {
      throw new TypeError(
        `${service.typeName} has no method "${name}": its methods are ${
          service.methods.map((m) => m.localName).join(", ")
        }`,
      );
    }
  }
  return plans;
}

/**
 * Registers every method of `service` on `server` (the body of
 * `server.service`) and records them in `catalog`.
 *
 * @throws {TypeError} For a client- or bidi-streaming method, a missing or
 * unknown implementation, or an invalid `(nanorpc).request_path`.
 * @throws {Error} When a path is taken or its hash collides.
 */
export function registerService<S extends DescService>(
  server: Server,
  catalog: PathCatalog,
  logger: Logger,
  service: S,
  impl: ServiceImpl<S>,
  options: ServiceOptions = {},
): ServiceRegistration<S> {
  const methods = impl as Record<string, unknown>;
  const plans = plan(service, methods, catalog);
  loadProtobuf();
  const paths: Record<string, string> = {};
  const topics = new Map<string, { topic: Topic; method: DescMethod }>();
  for (const { method, path, kind, given } of plans) {
    const schemas = { input: method.input, output: method.output };
    paths[method.localName] = path;
    if (kind === "request") {
      const handler = given as TypedHandler<DescMessage, DescMessage>;
      // Called as a method of the implementation, as a class expects.
      server.handle(path, schemas, handler.bind(methods), options.handle);
    } else {
      const topicImpl = given as
        | StreamingMethodImpl<DescMessage, DescMessage>
        | undefined;
      const filter = topicImpl?.filter?.bind(topicImpl);
      const topic = filter
        ? server.topic(path, {
          filterSchema: method.input,
          updateSchema: method.output,
          filter,
        })
        : server.topic(path);
      topics.set(method.localName, { topic, method });
    }
    catalog.add(kind, path, { ...schemas, method });
  }
  const streaming = (name: string) => {
    const found = topics.get(name);
    if (!found) {
      throw new TypeError(
        `${service.typeName} has no server-streaming method "${name}"`,
      );
    }
    return found;
  };
  return {
    service,
    paths: paths as ServiceRegistration<S>["paths"],
    publish(name, update) {
      const { topic, method } = streaming(name);
      const send = (pb: Protobuf) => {
        const init = update as MessageInitShape<never>;
        const message = createMessage(pb, method.output, init);
        server.publish(topic.path, pb.toBinary(method.output, message));
      };
      const pb = protobuf();
      if (pb) return send(pb);
      // Only before listen()/serve() resolved, when no local session can
      // be subscribed yet: sent (in order) once protobuf-es has loaded.
      loadProtobuf().then(send).catch((err) =>
        logger.error(
          `cannot publish to ${topic.path}: ${
            err instanceof Error ? err.message : String(err)
          }`,
        )
      );
    },
    topic: (name) => streaming(name).topic,
  };
}
