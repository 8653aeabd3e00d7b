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
import type { Protobuf } from "../protocol/_protobuf.ts";
import { ClientError } from "./errors.ts";

/** Encodes `init` as a message of `schema` with protobuf-es `pb`. */
export function encodeMessage<T extends DescMessage>(
  pb: Protobuf,
  schema: T,
  init: MessageInitShape<T>,
): Uint8Array {
  return pb.toBinary(schema, pb.create(schema, init));
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
