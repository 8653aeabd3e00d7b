// How `deno task call` prints data: protobuf JSON for a known type, text
// when the bytes are printable UTF-8, hex otherwise; or one JSON object
// per outcome with --json.

import {
  type DescExtension,
  type DescField,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonValue,
  type Registry,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { hasCustomJsonRepresentation } from "@bufbuild/protobuf/wkt";
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
  /** Set once stdout's reader has gone away (`| head -1`). */
  closed?: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Writes `line` and a newline to stdout, or nothing once its reader has
 * gone away: then sets `out.closed`. (console.log would drop the text
 * without a word, and a subscription would print on forever.)
 */
function writeLine(out: Output, line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  try {
    for (let at = 0; at < bytes.length && !out.closed;) {
      at += Deno.stdout.writeSync(bytes.subarray(at));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    out.closed = true;
  }
}

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

/**
 * `data` decoded as `type`, as protobuf JSON in `value` (absent when it
 * fails); `decodes` is false when it is not a `type` at all.
 */
function decoded(
  out: Output,
  data: Uint8Array,
  type: DescMessage,
): { value?: JsonValue; decodes: boolean } {
  let decodes = false;
  try {
    const message = fromBinary(type, data);
    decodes = true;
    return {
      value: toJson(type, message, {
        registry: out.registry,
        alwaysEmitImplicit: out.emitDefaults,
      }),
      decodes,
    };
  } catch (error) {
    // An Any of a type the schema lacks decodes, but has no JSON.
    const problem = decodes
      ? `is a valid ${type.typeName} but cannot be printed as JSON`
      : `does not decode as ${type.typeName}`;
    console.error(
      `warning: the data ${problem} (${
        (error as Error).message
      }); printing it raw`,
    );
    return { decodes };
  }
}

/**
 * Prints one response's or update's data: as protobuf JSON when `type` is
 * known (and --hex is off), else as text or hex. Returns false when the
 * data is not a `type` at all (it was printed raw, after a warning).
 */
export function print(
  out: Output,
  data: Uint8Array,
  type?: DescMessage,
  status = 1,
  message = "",
): boolean {
  const typed = type && !out.hex ? decoded(out, data, type) : undefined;
  const value = typed?.value;
  if (out.json) {
    writeLine(
      out,
      JSON.stringify({
        status: statusName(status),
        message,
        data: text(data) ?? null,
        hex: hex(data),
        ...(value === undefined ? {} : { type: type!.typeName, value }),
      }),
    );
  } else if (value !== undefined) {
    writeLine(out, JSON.stringify(value));
  } else {
    writeLine(out, out.hex ? hex(data) : text(data) ?? hex(data));
  }
  return typed?.decodes ?? true;
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
    value = parseJson(json, type, registry);
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

// protobuf JSON writes 64-bit integers as strings, and takes numbers too:
// `{"id": 9007199254740993}` from a user means that number, but
// JSON.parse alone rounds it to a double. So integer literals beyond 2^53
// are kept as written and given to the 64-bit integer fields as strings;
// anywhere else (a double, a google.protobuf.Value) they are numbers.

/** An integer literal a double cannot hold exactly, as written. */
class BigInteger {
  constructor(readonly text: string) {}
}

const INT64 = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

/** `text` parsed as the JSON of a `type`, 64-bit integers exact. */
function parseJson(
  text: string,
  type: DescMessage,
  registry?: Registry,
): JsonValue {
  const reviver = (_: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) &&
      /^-?\d+$/.test(context?.source ?? "")
      ? new BigInteger(context!.source!)
      : value;
  return message(JSON.parse(text, reviver as never), type, registry);
}

function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === "object" && json !== null && !Array.isArray(json) &&
    !(json instanceof BigInteger);
}

/** `json` with every kept integer a number again. */
function plain(json: unknown): JsonValue {
  if (json instanceof BigInteger) return Number(json.text);
  if (Array.isArray(json)) return json.map(plain);
  if (!isObject(json)) return json as JsonValue;
  return Object.fromEntries(
    Object.entries(json).map(([k, v]) => [k, plain(v)]),
  );
}

function scalar(json: unknown, int64: boolean): JsonValue {
  return int64 && json instanceof BigInteger ? json.text : plain(json);
}

function message(json: unknown, desc: DescMessage, registry?: Registry) {
  switch (desc.typeName) {
    case "google.protobuf.Any":
      return any(json, registry);
    case "google.protobuf.Int64Value":
    case "google.protobuf.UInt64Value":
      return scalar(json, true);
  }
  if (!isObject(json)) return plain(json);
  return Object.fromEntries(
    Object.entries(json).map(([key, value]) => {
      const field = desc.fields.find((f) =>
        f.jsonName === key || f.name === key
      ) ??
        registry?.getExtension(key.replace(/^\[(.*)\]$/, "$1"));
      return [key, field ? fieldValue(value, field, registry) : plain(value)];
    }),
  );
}

/** An Any's JSON: the fields of the type its "@type" names. */
function any(json: unknown, registry?: Registry): JsonValue {
  const url = isObject(json) ? json["@type"] : undefined;
  if (typeof url !== "string") return plain(json);
  const desc = registry?.getMessage(url.slice(url.lastIndexOf("/") + 1));
  if (!desc || !isObject(json)) return plain(json);
  if (!hasCustomJsonRepresentation(desc) || !("value" in json)) {
    return message(json, desc, registry);
  }
  return {
    ...plain(json) as object,
    value: message(json.value, desc, registry),
  };
}

function fieldValue(
  json: unknown,
  field: DescField | DescExtension,
  registry?: Registry,
): JsonValue {
  const item = (value: unknown) =>
    field.fieldKind === "message" ||
      (field.fieldKind === "list" && field.listKind === "message") ||
      (field.fieldKind === "map" && field.mapKind === "message")
      ? message(value, field.message, registry)
      : scalar(
        value,
        field.fieldKind !== "enum" && field.scalar !== undefined &&
          INT64.has(field.scalar),
      );
  if (field.fieldKind === "list" && Array.isArray(json)) return json.map(item);
  if (field.fieldKind === "map" && isObject(json)) {
    return Object.fromEntries(
      Object.entries(json).map(([k, v]) => [k, item(v)]),
    );
  }
  return field.fieldKind === "list" || field.fieldKind === "map"
    ? plain(json)
    : item(json);
}
