// The path fields of a request by path: FNV-1a hashed or UTF-8 encoded
// once, one bounded cache per way of sending the path.

import { PATH_HASH, PATH_STRING } from "../wasm/codec.ts";
import { fnv1a } from "../wasm/wire.ts";
import type { PathFields } from "./_subscription.ts";

/** Entries per cache before it starts over (paths a client uses are few). */
const MAX_PATHS = 1024;
const encoder = new TextEncoder();

export class PathCache {
  #strings = new Map<string, PathFields>();
  #hashes = new Map<string, PathFields>();

  fields(path: string, hash: boolean): PathFields {
    const paths = hash ? this.#hashes : this.#strings;
    let fields = paths.get(path);
    if (!fields) {
      if (paths.size >= MAX_PATHS) paths.clear();
      fields = hash
        ? { pathKind: PATH_HASH, pathHash: fnv1a(path), path: undefined }
        : { pathKind: PATH_STRING, pathHash: 0, path: encoder.encode(path) };
      paths.set(path, fields);
    }
    return fields;
  }
}
