/**
 * The protobuf-es schema types the typed client API takes, stated here so
 * that its documentation is self-contained.
 *
 * @module
 */

/**
 * A protobuf-es message schema, as generated code exports it (e.g.
 * `ChatMessageSchema` from `proto/gen/chat_pb.ts`); `T` is the message
 * type it describes. Any `GenMessage<T>` fits.
 *
 * @example
 * ```ts ignore
 * import type { MessageSchema } from "@nanorpc/nanorpc";
 * import { type ChatMessage, ChatMessageSchema } from "./proto/gen/chat_pb.ts";
 *
 * const schema: MessageSchema<ChatMessage> = ChatMessageSchema;
 * ```
 */
export interface MessageSchema<T extends object = object> {
  /** Always `"message"`. */
  readonly kind: "message";
  /** Fully qualified message name, e.g. `"nanorpc.demo.ChatMessage"`. */
  readonly typeName: string;
  /** Type brand of protobuf-es generated schemas; never read at run time. */
  readonly $codegenv2: { a: T; b: unknown };
}

/**
 * A message of type `T`, or an object with some of its fields (missing
 * fields take their defaults), as protobuf-es `create` accepts it.
 *
 * @example
 * ```ts ignore
 * import type { MessageInit } from "@nanorpc/nanorpc";
 * import type { ChatMessage } from "./proto/gen/chat_pb.ts";
 *
 * const init: MessageInit<ChatMessage> = { text: "hello" };
 * ```
 */
export type MessageInit<T> =
  | T
  | { [K in Exclude<keyof T, "$typeName" | "$unknown">]?: T[K] };
