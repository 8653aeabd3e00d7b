/**
 * Session attribute values as they travel with forwarded calls and ops: a
 * tag byte, then the value. Strings, numbers, booleans, `null`,
 * `undefined` and `Uint8Array`s have their own tags (fast, and readable by
 * any peer); anything else goes through the structured-clone serializer of
 * `node:v8` (plain objects, arrays, maps, sets, dates, bigints, other typed
 * arrays; class instances arrive as plain objects). Functions and symbols
 * cannot travel: encoding throws, and the caller leaves the value out.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import { MalformedMessageError, type Reader, type Writer } from "./_bytes.ts";

const UNDEFINED = 0;
const NULL = 1;
const FALSE = 2;
const TRUE = 3;
const NUMBER = 4;
const STRING = 5;
const BYTES = 6;
const CLONE = 7;

/**
 * Writes `value`.
 *
 * @throws {Error} When it cannot be cloned (a function, a symbol, or an
 * object holding one).
 */
export function writeValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case "undefined":
      w.byte(UNDEFINED);
      return;
    case "boolean":
      w.byte(value ? TRUE : FALSE);
      return;
    case "number":
      w.byte(NUMBER).float(value);
      return;
    case "string":
      w.byte(STRING).string(value);
      return;
  }
  if (value === null) {
    w.byte(NULL);
    return;
  }
  if (value instanceof Uint8Array && value.constructor === Uint8Array) {
    w.byte(BYTES).blob(value);
    return;
  }
  const bytes = serialize(value);
  w.byte(CLONE).blob(bytes);
}

/** Reads a value written by {@link writeValue}. */
export function readValue(r: Reader): unknown {
  const tag = r.byte("value tag");
  switch (tag) {
    case UNDEFINED:
      return undefined;
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case NUMBER:
      return r.float("number");
    case STRING:
      return r.string("string value");
    case BYTES:
      return r.blob("bytes value").slice();
    case CLONE: {
      const bytes = r.blob("cloned value");
      try {
        return deserialize(bytes);
      } catch (err) {
        throw new MalformedMessageError(
          `a cloned value cannot be read: ${
            err instanceof Error ? err.message : err
          }`,
        );
      }
    }
    default:
      throw new MalformedMessageError(`unknown value tag ${tag}`);
  }
}
