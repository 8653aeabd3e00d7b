/**
 * Handlers typed by protobuf-es schemas: the request data is decoded into
 * the input message and the returned value encoded with the output schema.
 *
 * @module
 */

import type {
  DescMessage,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { InternalError } from "../protocol/errors.ts";
import {
  createMessage,
  loadProtobuf,
  type Protobuf,
  protobuf,
} from "../protocol/_protobuf.ts";
import type { Context } from "./context.ts";
import type { Handler } from "./handler.ts";

/** Schemas of a typed handler's request and response data. */
export interface HandlerSchemas<
  I extends DescMessage,
  O extends DescMessage = DescMessage,
> {
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
 * protobuf-es (`npm:@bufbuild/protobuf`) is loaded when this is called,
 * not when the server module is imported; `server.listen()` and
 * `server.serve()` wait for that load, and a request that comes before it
 * has finished waits for it.
 *
 * @param schemas The input and (optional) output schemas.
 * @param handler The typed handler.
 * @returns A plain handler for `server.handle`.
 *
 * @example
 * ```ts
 * import { typedHandler } from "@nanorpc/nanorpc/server";
 * import { ChatJoinSchema } from "@nanorpc/nanorpc/proto/chat";
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
  const { input: inputSchema, output } = schemas;
  loadProtobuf();
  // Called only after `run`, so protobuf-es has loaded.
  const encode = (
    value: MessageInitShape<O> | void,
  ): Uint8Array | undefined => {
    if (!output || value === undefined) return undefined;
    const pb = protobuf()!;
    return pb.toBinary(output, createMessage(pb, output, value));
  };
  const run = (pb: Protobuf, ctx: Context) => {
    let input: MessageShape<I>;
    try {
      input = pb.fromBinary(inputSchema, ctx.data);
    } catch (err) {
      throw new InternalError(
        `Request data for ${ctx.path} is not a valid ${inputSchema.typeName}: ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
    const result = handler(input, ctx);
    return result instanceof Promise ? result.then(encode) : encode(result);
  };
  return (ctx) => {
    const pb = protobuf();
    return pb ? run(pb, ctx) : loadProtobuf().then((pb) => run(pb, ctx));
  };
}
