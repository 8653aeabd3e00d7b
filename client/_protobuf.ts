/**
 * Encoding and decoding with protobuf-es schemas for the typed client API.
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
import { ClientError } from "./errors.ts";

/** Encodes `init` as a message of `schema`. */
export function encodeMessage<T extends DescMessage>(
  schema: T,
  init: MessageInitShape<T>,
): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/**
 * Decodes `bytes` as a message of `schema`.
 *
 * @throws {ClientError} Naming `from` and the schema when they do not match.
 */
export function decodeMessage<T extends DescMessage>(
  schema: T,
  bytes: Uint8Array,
  from: string,
): MessageShape<T> {
  try {
    return fromBinary(schema, bytes);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ClientError(
      `Data from ${from} does not decode as ${schema.typeName} (${reason}); check the output schema`,
      { cause },
    );
  }
}
