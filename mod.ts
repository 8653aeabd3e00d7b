/**
 * nanorpc for Deno: a server and client for the NanoRPC protocol
 * (length-delimited protobuf frames, FNV-1a path hashes, ping/pong,
 * request/response, subscribe/update), with the application model of the
 * Go game-server library nano and a WebAssembly codec on the hot path.
 *
 * @example
 * ```ts
 * import { fnv1a } from "@nanorpc/nanorpc";
 *
 * console.log(fnv1a("/echo").toString(16));
 * ```
 *
 * @module
 */

export {
  fnv1a,
  RequestType,
  ResponseType,
  Status,
  statusName,
} from "./wasm/wire.ts";
export * from "./server/mod.ts";
