/**
 * The real server client tests talk to, started with the kit's
 * `startServer`: the demo routes, plus `/ticks` (a topic), `/fail` (a
 * handler that throws) and `/hold` (a handler that waits at a gate the test
 * opens). Named `_test.ts` so it is never published; it holds no tests.
 *
 * @module
 */

import { registerDemo } from "../server/demo.ts";
import {
  Gate,
  startServer,
  type StartServerOptions,
  type TestServer,
} from "../testing/mod.ts";

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions extends StartServerOptions {
  /** Where the gates of `/hold` requests go, in arrival order. */
  holds?: Gate[];
}

/**
 * Starts the client tests' server on a free TCP port (or what `transports`
 * say); restarts register the same routes.
 *
 * @param options Server options, where to listen, and where `/hold` puts
 * its gates.
 * @returns The running test server.
 */
export function startDemoServer(
  options: DemoServerOptions = {},
): Promise<TestServer> {
  const { holds = [], ...rest } = options;
  return startServer((server) => {
    registerDemo(server);
    server.topic("/ticks");
    server.handle("/fail", () => {
      throw new Error("boom");
    });
    server.handle("/hold", async () => {
      const gate = new Gate();
      holds.push(gate);
      await gate.opened;
      return "released";
    }, { concurrent: true });
  }, rest);
}
