// NanoRPC codec in AssemblyScript, the module's entry: frame splitting,
// protobuf field decoding, UTF-8 validation and FNV-1a path hashing over a
// whole chunk per call (decode.ts), and batch encoders for response and
// request frame headers (encode.ts).
//
// Everything works on raw memory owned by the TypeScript binding
// (wasm/codec.ts): no managed objects, no allocation. The tables both sides
// read and write are laid out in wasm/layout.ts, which both compile.

export { decodeRequests, decodeResponses } from "./decode";
export { encodeRequests, encodeResponses } from "./encode";
export { fnv1a } from "./utf8";

/** First address the binding may use: past the module's static data. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}
