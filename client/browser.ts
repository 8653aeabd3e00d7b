/**
 * The client for browsers: the same `connect` and `Client` as
 * `@nanorpc/nanorpc/client`, over WebSockets only (`ws://` and `wss://`),
 * with the WebAssembly codec inside. `deno task build:browser` bundles it
 * into one ES module, which the server's HTTP listener serves at
 * `/nanorpc.js`.
 *
 * Importing it compiles the codec's WebAssembly module asynchronously
 * (browsers refuse to compile a module of its size synchronously on their
 * main thread), so the import settles once the client is ready.
 *
 * @example In a page served by `deno task server --http 127.0.0.1:8080`
 * ```ts ignore
 * import { connect } from "/nanorpc.js";
 *
 * const client = await connect(`ws://${location.host}/nanorpc`);
 * const { data } = await client.request("/echo", new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode(data)); // "hi"
 * for await (const update of await client.subscribe("/room/messages")) {
 *   console.log(update.length, "bytes");
 * }
 * ```
 *
 * @module
 */

import { compileCodec } from "../wasm/codec.ts";

await compileCodec();

export * from "./mod.ts";
export { fnv1a } from "../wasm/wire.ts";
