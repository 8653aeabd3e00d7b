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

/** The compiled module, shared by every instance. */
let compiled: WebAssembly.Module | undefined;

function binary(): Uint8Array<ArrayBuffer> {
  const text = atob(CODEC_WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Compiles the embedded module without blocking, so that {@link
 * instantiate} finds it compiled. Browsers need this: their main thread
 * refuses to compile a module over 4 KB synchronously.
 */
export async function compile(): Promise<void> {
  compiled ??= await WebAssembly.compile(binary());
}

/**
 * Instantiates the embedded module, compiling it first (synchronously)
 * unless {@link compile} already did.
 */
export function instantiate(): Exports {
  const module = compiled ??= new WebAssembly.Module(binary());
  return new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error("NanoRPC codec aborted");
      },
    },
  }).exports as unknown as Exports;
}
