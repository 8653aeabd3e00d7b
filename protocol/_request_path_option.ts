// Reads the `(nanorpc).request_path` method option straight from the
// option's bytes, so that `methodPath` needs no protobuf-es functions and
// no generated module at run time (a server that serves no service never
// loads either). protobuf-es keeps every extension of `MethodOptions`,
// this one included, as an unknown field of the options message; this is
// what `getOption(method, nanorpc).requestPath` reads, and gives the same
// answer: occurrences merge, and the last `request_path` wins. Bytes that
// protobuf-es reads leniently and protoc never writes -- a request_path of
// another wire type, a varint over 10 bytes, a length of 2^32 or more --
// are refused as malformed (_request_path_option_fuzz_test.ts).

import type { DescMethod } from "@bufbuild/protobuf";

/** The extension number of `(nanorpc)` on `google.protobuf.MethodOptions`. */
const NANORPC_EXTENSION = 5020;
/** `NanoRPCMethodOptions.request_path`. */
const REQUEST_PATH_FIELD = 1;
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;
/** Groups nested deeper than this are refused, as protobuf-es does. */
const MAX_GROUP_DEPTH = 99;

/** As protobuf-es reads a proto3 string: strict, a leading U+FEFF kept. */
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The `(nanorpc).request_path` option of `method`, or `undefined` when the
 * option or its `request_path` is not set.
 *
 * @throws {TypeError} When the option's bytes are malformed.
 */
export function requestPathOption(method: DescMethod): string | undefined {
  let path: string | undefined;
  for (const field of method.proto.options?.$unknown ?? []) {
    if (field.no !== NANORPC_EXTENSION) continue;
    const reader = new OptionReader(field.data, method);
    if (field.wireType !== LENGTH_DELIMITED) reader.malformed();
    path = reader.requestPath(path);
  }
  return path;
}

/** A reader of one `(nanorpc)` occurrence: a length, then the message. */
class OptionReader {
  #pos = 0;
  readonly #bytes: Uint8Array;
  readonly #method: DescMethod;

  constructor(bytes: Uint8Array, method: DescMethod) {
    this.#bytes = bytes;
    this.#method = method;
  }

  /** The occurrence's last `request_path`, else `previous`. */
  requestPath(previous: string | undefined): string | undefined {
    const end = this.#end(this.#varint());
    let path = previous;
    while (this.#pos < end) {
      const tag = this.#tag();
      const wireType = tag % 8;
      if (Math.floor(tag / 8) === REQUEST_PATH_FIELD) {
        if (wireType !== LENGTH_DELIMITED) this.malformed();
        const stop = this.#end(this.#varint());
        path = this.#text(stop);
        this.#pos = stop;
      } else this.#skip(wireType, Math.floor(tag / 8), 0);
    }
    if (this.#pos !== end) this.malformed();
    return path;
  }

  /**
   * Skips the value of a field `no` of `wireType`, as protobuf-es does for
   * fields it does not know: a group up to its matching end.
   */
  #skip(wireType: number, no: number, depth: number): void {
    if (wireType === VARINT) {
      this.#varint();
    } else if (wireType === FIXED64 || wireType === FIXED32) {
      this.#pos = this.#end(wireType === FIXED64 ? 8 : 4);
    } else if (wireType === LENGTH_DELIMITED) {
      this.#pos = this.#end(this.#varint());
    } else if (wireType === START_GROUP && depth < MAX_GROUP_DEPTH) {
      for (;;) {
        const tag = this.#tag();
        if (tag % 8 === END_GROUP) {
          if (Math.floor(tag / 8) !== no) this.malformed();
          return;
        }
        this.#skip(tag % 8, Math.floor(tag / 8), depth + 1);
      }
    } else {
      this.malformed();
    }
  }

  /** @throws {TypeError} Always: the option's bytes are malformed. */
  malformed(): never {
    const { parent, name } = this.#method;
    throw new TypeError(
      `The (nanorpc) option of ${parent.typeName}.${name} is malformed; regenerate ${parent.file.proto.name} with protoc or buf`,
    );
  }

  /** The UTF-8 text from here to `stop`. */
  #text(stop: number): string {
    try {
      return decoder.decode(this.#bytes.subarray(this.#pos, stop));
    } catch {
      return this.malformed();
    }
  }

  /** Where `length` bytes from here end, checked against the bytes. */
  #end(length: number): number {
    const end = this.#pos + length;
    if (end > this.#bytes.length) this.malformed();
    return end;
  }

  /**
   * A field's tag; field number 0, a tag over 32 bits or longer than 5
   * bytes are illegal, as for protobuf-es.
   */
  #tag(): number {
    const start = this.#pos;
    const tag = this.#varint();
    return tag < 8 || tag > 0xffffffff || this.#pos - start > 5
      ? this.malformed()
      : tag;
  }

  #varint(): number {
    // Up to 10 bytes, as protobuf allows; values past 2^53 lose precision,
    // which only a skipped field can have (a length that large is past
    // the end anyway).
    let value = 0;
    for (let i = 0, shift = 1; i < 10; i++, shift *= 128) {
      if (this.#pos >= this.#bytes.length) break;
      const byte = this.#bytes[this.#pos++];
      value += (byte & 0x7f) * shift;
      if (byte < 0x80) return value;
    }
    return this.malformed();
  }
}
