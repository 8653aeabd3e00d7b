/**
 * Handlers typed by protobuf-es schemas: the request data is decoded into
 * the input message and the returned value encoded from the output schema.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { NanoRpcError } from "../client/errors.ts";
import type { MessageInit, MessageSchema } from "../client/schema.ts";
import { Status } from "../wasm/wire.ts";
import type { Context } from "./context.ts";
import type { Handler } from "./router.ts";

/** Schemas of a typed handler's request and response data. */
export interface HandlerSchemas<I extends object, O extends object> {
  /** Schema the request data is decoded with. */
  input: MessageSchema<I>;
  /** Schema the returned value is encoded with; omit to answer empty. */
  output?: MessageSchema<O>;
}

/** A handler that takes and returns protobuf messages. */
export type TypedHandler<I extends object, O extends object> = (
  input: I,
  ctx: Context,
) => MessageInit<O> | void | Promise<MessageInit<O> | void>;

/**
 * Wraps a typed handler into a plain one. Data that does not decode is
 * answered with STATUS_INTERNAL_ERROR naming the schema.
 *
 * @example
 * ```ts
 * import { typedHandler } from "@nanorpc/nanorpc";
 * import { ChatJoinSchema } from "@nanorpc/nanorpc/proto/chat";
 *
 * const join = typedHandler({ input: ChatJoinSchema }, (msg, ctx) => {
 *   ctx.session.set("name", msg.name);
 * });
 * ```
 */
export function typedHandler<I extends object, O extends object>(
  schemas: HandlerSchemas<I, O>,
  handler: TypedHandler<I, O>,
): Handler {
  const output = schemas.output as unknown as DescMessage | undefined;
  const inputSchema = schemas.input as unknown as DescMessage;
  const encode = (value: MessageInit<O> | void): Uint8Array | undefined => {
    if (!output || value === undefined) return undefined;
    return toBinary(output, create(output, value as never));
  };
  return (ctx) => {
    let input: I;
    try {
      input = fromBinary(inputSchema, ctx.data) as unknown as I;
    } catch (err) {
      throw new NanoRpcError(
        Status.INTERNAL_ERROR,
        `Request data for ${ctx.path} is not a valid ${schemas.input.typeName}: ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
    const result = handler(input, ctx);
    return result instanceof Promise ? result.then(encode) : encode(result);
  };
}
