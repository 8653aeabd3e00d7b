// The embedded WebAssembly module: its exports as the binding calls them,
// and how it is brought to life. Only wasm/codec.ts uses this, and only on
// its first call.

import { CODEC_WASM_BASE64 } from "./codec.generated.ts";

/** The module's exports (wasm/assembly/codec.ts). */
export interface Exports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  fnv1a(ptr: number, len: number): number;
  decodeRequests(
    input: number,
    len: number,
    out: number,
    maxFrames: number,
    maxMessage: number,
  ): number;
  decodeResponses(
    input: number,
    len: number,
    out: number,
    maxFrames: number,
    maxMessage: number,
  ): number;
  encodeResponses(table: number, count: number, out: number): number;
  encodeRequests(table: number, count: number, out: number): number;
}

/** Decodes, compiles and instantiates the embedded module. */
export function instantiate(): Exports {
  const binary = atob(CODEC_WASM_BASE64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const module = new WebAssembly.Module(bytes);
  return new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error("NanoRPC codec aborted");
      },
    },
  }).exports as unknown as Exports;
}
