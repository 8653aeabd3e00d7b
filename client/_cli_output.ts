// How `deno task call` prints data: protobuf JSON for a known type, text
// when the bytes are printable UTF-8, hex otherwise; or one JSON object
// per outcome with --json.

import {
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonValue,
  type Registry,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { statusName } from "../wasm/wire.ts";
import { DataError } from "./_cli_usage.ts";

/** How to print. */
export interface Output {
  /** Print data as hex, even of a known type. */
  hex: boolean;
  /** One JSON object per outcome. */
  json: boolean;
  /** Print fields that hold their default value too. */
  emitDefaults: boolean;
  /** Types for `google.protobuf.Any` fields. */
  registry?: Registry;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes as hex digits. */
export function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** The bytes as text when they are valid UTF-8 and printable. */
export function text(bytes: Uint8Array): string | undefined {
  for (const b of bytes) {
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) {
      return undefined;
    }
  }
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** `data` decoded as `type`, as protobuf JSON; undefined when it fails. */
function decoded(
  out: Output,
  data: Uint8Array,
  type: DescMessage,
): JsonValue | undefined {
  try {
    return toJson(type, fromBinary(type, data), {
      registry: out.registry,
      alwaysEmitImplicit: out.emitDefaults,
    });
  } catch (error) {
    console.error(
      `warning: the data does not decode as ${type.typeName} (${
        (error as Error).message
      }); printing it raw`,
    );
    return undefined;
  }
}

/**
 * Prints one response's or update's data: as protobuf JSON when `type` is
 * known (and --hex is off), else as text or hex.
 */
export function print(
  out: Output,
  data: Uint8Array,
  type?: DescMessage,
  status = 1,
  message = "",
): void {
  const value = type && !out.hex ? decoded(out, data, type) : undefined;
  if (out.json) {
    console.log(JSON.stringify({
      status: statusName(status),
      message,
      data: text(data) ?? null,
      hex: hex(data),
      ...(value === undefined ? {} : { type: type!.typeName, value }),
    }));
  } else if (value !== undefined) {
    console.log(JSON.stringify(value));
  } else {
    console.log(out.hex ? hex(data) : text(data) ?? hex(data));
  }
}

/**
 * Encodes `json` (text of a protobuf JSON object) as a message of `type`.
 *
 * @throws {DataError} When it is not JSON, or not a `type`.
 */
export function encodeJson(
  type: DescMessage,
  json: string,
  flag: string,
  registry?: Registry,
): Uint8Array {
  let value: JsonValue;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new DataError(
      `${flag} is JSON of ${type.typeName}, e.g. '${example(type)}' (${
        (error as Error).message
      }); give raw bytes with ${
        flag === "DATA" ? "--data-hex" : "--filter-hex"
      }`,
    );
  }
  try {
    return toBinary(type, fromJson(type, value, { registry }));
  } catch (error) {
    throw new DataError(
      `${flag} is not a valid ${type.typeName}: ${
        (error as Error).message
      }; --describe shows its fields`,
    );
  }
}

function example(type: DescMessage): string {
  const fields = type.fields.filter((f) => f.fieldKind === "scalar")
    .slice(0, 3);
  return JSON.stringify(Object.fromEntries(fields.map((field) => [
    field.jsonName,
    field.scalar === ScalarType.STRING
      ? "\u2026"
      : field.scalar === ScalarType.BOOL
      ? true
      : 0,
  ])));
}
