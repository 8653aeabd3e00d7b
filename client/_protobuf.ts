/**
 * Encoding and decoding with protobuf-es schemas for the typed client API.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { ClientError } from "./errors.ts";
import type { MessageInit, MessageSchema } from "./schema.ts";

/** Encodes `init` as a message of `schema`. */
export function encodeMessage<T extends object>(
  schema: MessageSchema<T>,
  init: MessageInit<T>,
): Uint8Array {
  const desc = schema as unknown as DescMessage;
  return toBinary(desc, create(desc, init as never));
}

/**
 * Decodes `bytes` as a message of `schema`.
 *
 * @throws {ClientError} Naming `from` and the schema when they do not match.
 */
export function decodeMessage<T extends object>(
  schema: MessageSchema<T>,
  bytes: Uint8Array,
  from: string,
): T {
  try {
    return fromBinary(schema as unknown as DescMessage, bytes) as T;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ClientError(
      `Data from ${from} does not decode as ${schema.typeName} (${reason}); check the output schema`,
      { cause },
    );
  }
}
