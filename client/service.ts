/**
 * Typed clients of `.proto` services: `client.service(Room)` has one
 * function per method. Unary methods send a REQUEST to the method's path
 * and resolve with the decoded output; server-streaming methods SUBSCRIBE
 * with the input as the filter and resolve with a subscription whose
 * updates are decoded outputs. Paths come from `(nanorpc).request_path`,
 * or are `/<package>.<Service>/<Method>` without it, as on the server.
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
import { loadProtobuf, protobuf } from "../protocol/_protobuf.ts";
import { methodPath, methodPathKind } from "../protocol/service.ts";
import type { Client } from "./client.ts";
import { ClientError } from "./errors.ts";
import type { RequestOptions } from "./options.ts";
import { encodeMessage } from "./_protobuf.ts";
import type { ClientSubscription, SubscribeOptions } from "./subscription.ts";

/**
 * Calls a unary method: encodes `input` (default: the empty message) with
 * the method's input schema and resolves with the decoded output.
 */
export type UnaryClientMethod<I extends DescMessage, O extends DescMessage> = (
  input?: MessageInitShape<I>,
  options?: RequestOptions,
) => Promise<MessageShape<O>>;

/**
 * Subscribes to a server-streaming method: `filter` (default: the empty
 * message, "everything") is encoded with the method's input schema; the
 * subscription yields decoded outputs and survives reconnects.
 */
export type StreamingClientMethod<
  I extends DescMessage,
  O extends DescMessage,
> = (
  filter?: MessageInitShape<I>,
  options?: SubscribeOptions<MessageShape<O>>,
) => Promise<ClientSubscription<MessageShape<O>>>;

/**
 * The typed client of service `S`, by method local name: unary methods
 * are {@link UnaryClientMethod}s, server-streaming methods
 * {@link StreamingClientMethod}s. Client- and bidi-streaming methods,
 * which NanoRPC cannot carry, are left out.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * await using client = await connect("tcp://127.0.0.1:7411");
 * const room = client.service(Room);
 * const messages = await room.messages({ from: "ada" });
 * await room.join({ name: "ada" });
 * await room.send({ text: "hi" });
 * for await (const msg of messages) console.log(`${msg.from}: ${msg.text}`);
 * ```
 */
export type ServiceClient<S extends DescService> = string extends
  keyof S["method"] ? {
    [name: string]:
      | UnaryClientMethod<DescMessage, DescMessage>
      | StreamingClientMethod<DescMessage, DescMessage>;
  }
  : {
    [
      N in keyof S["method"] as S["method"][N]["methodKind"] extends
        "unary" | "server_streaming" ? N : never
    ]: S["method"][N]["methodKind"] extends "unary" ? UnaryClientMethod<
        S["method"][N]["input"],
        S["method"][N]["output"]
      >
      : StreamingClientMethod<
        S["method"][N]["input"],
        S["method"][N]["output"]
      >;
  };

function clientMethod(client: Client, method: DescMethod): unknown {
  let kind: "request" | "topic";
  try {
    kind = methodPathKind(method);
  } catch (error) {
    const message = (error as Error).message;
    return () => Promise.reject(new ClientError(message));
  }
  const path = methodPath(method);
  const { input, output } = method;
  if (kind === "request") {
    return (init: MessageInitShape<DescMessage> = {}, options = {}) =>
      client.call(path, init, { ...options, input, output });
  }
  return (
    init?: MessageInitShape<DescMessage>,
    options: SubscribeOptions<MessageShape<DescMessage>> = {},
  ) => {
    const subscribe = (filter?: Uint8Array) =>
      client.subscribe(path, filter, { ...options, output });
    if (init === undefined) return subscribe();
    const pb = protobuf();
    if (!pb) {
      return loadProtobuf().then((pb) =>
        subscribe(encodeMessage(pb, input, init, path))
      );
    }
    try {
      return subscribe(encodeMessage(pb, input, init, path));
    } catch (error) {
      // The method returns a promise: a filter that does not encode
      // rejects it rather than throwing.
      return Promise.reject(error);
    }
  };
}

/**
 * Builds the typed client of `service` on `client` (the body of
 * `client.service`). It starts loading protobuf-es
 * (`npm:@bufbuild/protobuf`), which its methods await on first use.
 *
 * @param client The connection to call through.
 * @param service A protobuf-es service descriptor, e.g. `Room`.
 * @returns One function per unary or server-streaming method.
 * @throws {TypeError} When a method's `(nanorpc).request_path` does not
 * start with "/".
 *
 * @example
 * ```ts ignore
 * import { connect, serviceClient } from "@nanorpc/nanorpc/client";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * await using client = await connect("tcp://127.0.0.1:7411");
 * await serviceClient(client, Room).send({ text: "hi" });
 * ```
 */
export function serviceClient<S extends DescService>(
  client: Client,
  service: S,
): ServiceClient<S> {
  loadProtobuf();
  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    methods[method.localName] = clientMethod(client, method);
  }
  return methods as ServiceClient<S>;
}
