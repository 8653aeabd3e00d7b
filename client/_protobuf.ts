/**
 * Encoding and decoding with protobuf-es schemas for the typed client API.
 * protobuf-es itself is passed in: `protocol/_protobuf.ts` loads it on the
 * first typed call, typed subscription or service client, so a client that
 * sends only bytes never loads an npm package.
 *
 * @module
 */

import type {
  DescMessage,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { createMessage, type Protobuf } from "../protocol/_protobuf.ts";
import { ClientError } from "./errors.ts";

/**
 * Encodes `init` as a message of `schema` going to `to` (a path), with
 * protobuf-es `pb`.
 *
 * @throws {ClientError} Naming `to` and the schema, when `init` is a
 * message of another type or does not encode (a required field unset).
 */
export function encodeMessage<T extends DescMessage>(
  pb: Protobuf,
  schema: T,
  init: MessageInitShape<T>,
  to: string,
): Uint8Array {
  try {
    return pb.toBinary(schema, createMessage(pb, schema, init));
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ClientError(
      `Cannot encode the data for ${to} as ${schema.typeName} (${reason}); check the input`,
      { cause },
    );
  }
}

/**
 * A decoder of messages of `schema` that come from `from` (a path), with
 * protobuf-es `pb`.
 *
 * @returns A function that decodes bytes and throws a {@link ClientError}
 * naming `from` and the schema when they do not match.
 */
export function messageDecoder<T extends DescMessage>(
  pb: Protobuf,
  schema: T,
  from: string,
): (bytes: Uint8Array) => MessageShape<T> {
  return (bytes) => {
    try {
      return pb.fromBinary(schema, bytes);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new ClientError(
        `Data from ${from} does not decode as ${schema.typeName} (${reason}); check the output schema`,
        { cause },
      );
    }
  };
}
