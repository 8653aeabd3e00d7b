/**
 * nanorpc for Deno: a server and client for the NanoRPC protocol
 * (length-delimited protobuf frames, FNV-1a path hashes, ping/pong,
 * request/response, subscribe/update), with the application model of the
 * Go game-server library nano and a WebAssembly codec on the hot path.
 *
 * This module re-exports the server (`@nanorpc/nanorpc/server`), the client
 * (`@nanorpc/nanorpc/client`) and the protocol vocabulary; import a subpath
 * to load only one side.
 *
 * @example A server
 * ```ts
 * import { Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/echo", (ctx) => ctx.data);
 * const listener = await server.listen({ port: 0 });
 * console.log(`listening on ${listener.url}`);
 * await server.shutdown();
 * ```
 *
 * @example A client
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc";
 *
 * await using client = await connect("tcp://127.0.0.1:7411");
 * const { data } = await client.request("/echo", new TextEncoder().encode("hi"));
 * ```
 *
 * @module
 */

export * from "./protocol/mod.ts";
export * from "./server/mod.ts";
export * from "./client/mod.ts";
