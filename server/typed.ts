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
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { NanoRpcError } from "../client/errors.ts";
import { Status } from "../wasm/wire.ts";
import type { Context } from "./context.ts";
import type { Handler } from "./router.ts";

/** Schemas of a typed handler's request and response data. */
export interface HandlerSchemas<I extends DescMessage, O extends DescMessage> {
  /** Schema the request data is decoded with. */
  input: I;
  /** Schema the returned value is encoded with; omit to answer empty. */
  output?: O;
}

/** A handler that takes and returns protobuf messages. */
export type TypedHandler<I extends DescMessage, O extends DescMessage> = (
  input: MessageShape<I>,
  ctx: Context,
) =>
  | MessageInitShape<O>
  | void
  | Promise<MessageInitShape<O> | void>;

/**
 * Wraps a typed handler into a plain one. Data that does not decode is
 * answered with STATUS_INTERNAL_ERROR naming the schema.
 *
 * @example
 * ```ts
 * import { typedHandler } from "@nanorpc/nanorpc";
 * import { ChatJoinSchema } from "@nanorpc/nanorpc/proto/gen/chat_pb.ts";
 *
 * const join = typedHandler({ input: ChatJoinSchema }, (msg, ctx) => {
 *   ctx.session.set("name", msg.name);
 * });
 * ```
 */
export function typedHandler<I extends DescMessage, O extends DescMessage>(
  schemas: HandlerSchemas<I, O>,
  handler: TypedHandler<I, O>,
): Handler {
  const encode = (
    value: MessageInitShape<O> | void,
  ): Uint8Array | undefined => {
    if (!schemas.output || value === undefined) return undefined;
    return toBinary(schemas.output, create(schemas.output, value));
  };
  return (ctx) => {
    let input: MessageShape<I>;
    try {
      input = fromBinary(schemas.input, ctx.data);
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
