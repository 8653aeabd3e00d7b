/**
 * The gateway between NanoRPC and HTTP, in both directions, on
 * `@connectrpc/connect` (kept out of the main package: import it from
 * `@nanorpc/nanorpc/gateway`).
 *
 * - {@link connectGateway}: the methods of services registered with
 *   `server.service`, served over the Connect protocol and gRPC-Web by a
 *   fetch-style handler, through the server's own sessions.
 * - {@link forwardTo} and {@link relayUpstream}: a NanoRPC service whose
 *   calls go to an upstream Connect, gRPC-Web or gRPC service, and whose
 *   topics carry that service's streams.
 *
 * @example
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { connectGateway } from "@nanorpc/nanorpc/gateway";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const server = new Server();
 * server.service(Room, { join: () => {}, send: () => {} });
 * Deno.serve({ port: 8080 }, connectGateway(server).fetch);
 * ```
 *
 * @module
 */

export {
  type ConnectGateway,
  connectGateway,
  type ConnectGatewayOptions,
  type GatewayMethod,
} from "./connect.ts";
export { connectCode, nanoRpcError } from "./status.ts";
export {
  forwardTo,
  type Relay,
  type RelayOptions,
  relayUpstream,
  type UpstreamOptions,
} from "./upstream.ts";
