/**
 * A module for `deno task server --module` used by bench/cluster.ts: the
 * fan-out topic of bench/serve.ts and the handler that publishes to it.
 *
 * @module
 */

import type { Server } from "../server/mod.ts";
import { PUBLISH, UPDATES } from "./serve.ts";

/** Registers the topic and, with `publish`, its publishing handler. */
export default function clusterBenchNode(server: Server): void {
  server.topic(UPDATES);
  server.handle(PUBLISH, (ctx) => server.publish(UPDATES, ctx.data));
}
