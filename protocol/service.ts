/**
 * How a `.proto` service maps onto NanoRPC paths, shared by the server
 * (`server.service`) and the client (`client.service`): each method is
 * served at its `(nanorpc).request_path` option, or at
 * `/<package>.<Service>/<Method>` without one; unary methods are requests,
 * server-streaming methods are topics.
 *
 * @module
 */

import type { DescMethod } from "@bufbuild/protobuf";
import { requestPathOption } from "./_request_path_option.ts";

/**
 * The reserved path of the server's reflection service: a REQUEST there is
 * answered with a `nanorpc_reflection.ReflectionResponse` (see
 * `proto/nanorpc_reflection.proto`).
 *
 * @example
 * ```ts
 * import { REFLECTION_PATH } from "@nanorpc/nanorpc/protocol";
 *
 * console.log(REFLECTION_PATH); // "/_nanorpc/reflection"
 * ```
 */
export const REFLECTION_PATH = "/_nanorpc/reflection";

/** How a method is served: as a request handler or as a topic. */
export type MethodPathKind = "request" | "topic";

/**
 * The path `method` is served at: its `(nanorpc).request_path` option
 * when set, otherwise `/<package>.<Service>/<Method>` (the path gRPC and
 * Connect use for the same method, e.g. `/nanorpc_demo.Room/Send`).
 *
 * @param method A method of a protobuf-es service descriptor.
 * @returns The NanoRPC path.
 * @throws {TypeError} When the option is set but does not start with "/".
 *
 * @example
 * ```ts
 * import { methodPath } from "@nanorpc/nanorpc/protocol";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * console.log(methodPath(Room.method.send)); // "/room/send"
 * ```
 */
export function methodPath(method: DescMethod): string {
  const path = requestPathOption(method);
  if (path === undefined) {
    return `/${method.parent.typeName}/${method.name}`;
  }
  if (!path.startsWith("/")) {
    throw new TypeError(
      `The (nanorpc).request_path of ${method.parent.typeName}.${method.name} is ${
        JSON.stringify(path)
      }: paths start with "/"; fix the option in ${method.parent.file.proto.name}`,
    );
  }
  return path;
}

/**
 * Whether `method` is served as a request (unary) or a topic (server
 * streaming).
 *
 * @param method A method of a protobuf-es service descriptor.
 * @returns `"request"` or `"topic"`.
 * @throws {TypeError} For client-streaming and bidi-streaming methods,
 * which NanoRPC cannot carry.
 *
 * @example
 * ```ts
 * import { methodPathKind } from "@nanorpc/nanorpc/protocol";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * console.log(methodPathKind(Room.method.messages)); // "topic"
 * ```
 */
export function methodPathKind(method: DescMethod): MethodPathKind {
  switch (method.methodKind) {
    case "unary":
      return "request";
    case "server_streaming":
      return "topic";
    default:
      throw new TypeError(
        `${method.parent.typeName}.${method.name} is ${
          method.methodKind.replace("_", "-")
        }: NanoRPC serves unary methods as requests and server-streaming methods as topics, and nothing else; remove the method from the service or move it to a service you do not serve over NanoRPC`,
      );
  }
}
