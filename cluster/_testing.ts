// Test helpers for cluster tests: nodes made of a Server, a NatsBroker and
// a NatsForwarder on one nats-server, each listening on TCP port 0.

import { Server, type ServerOptions } from "../server/mod.ts";
import { silentLogger } from "../testing/logger.ts";
import { RawClient } from "../testing/raw_client.ts";
import { waitFor } from "../testing/wait.ts";
import { NatsBroker } from "./nats_broker.ts";
import { NatsForwarder } from "./nats_forwarder.ts";
import type { NatsForwarderOptions } from "./nats_forwarder_options.ts";

/** One node of a test cluster. */
export interface TestNode extends AsyncDisposable {
  readonly server: Server;
  readonly broker: NatsBroker;
  readonly forward: NatsForwarder;
  readonly addr: Deno.NetAddr;
  /** A raw client connected to this node, closed on dispose. */
  connect(): Promise<RawClient>;
  /** Shuts the server down and closes the links. */
  close(): Promise<void>;
}

/** How {@link startNode} makes a node. */
export interface TestNodeOptions {
  /** NATS URL. */
  servers: string;
  /** Registers the node's routes. */
  setup?: (server: Server) => void;
  /** Server options. */
  server?: ServerOptions;
  /** Forwarder options (servers and logger are set). */
  forward?: Partial<NatsForwarderOptions>;
}

/** Starts a node: server, broker and forwarder, listening on port 0. */
export async function startNode(options: TestNodeOptions): Promise<TestNode> {
  const logger = silentLogger;
  const broker = await NatsBroker.connect({ servers: options.servers, logger });
  const forward = await NatsForwarder.connect({
    servers: options.servers,
    logger,
    heartbeatInterval: 100,
    ...options.forward,
  });
  const server = new Server({ logger, broker, forward, ...options.server });
  options.setup?.(server);
  const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
  await broker.flush();
  const clients: RawClient[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      for (const c of clients) c.close();
      await server.shutdown();
      await forward.close();
      await broker.close();
    })();
  return {
    server,
    broker,
    forward,
    addr: listener.addr as Deno.NetAddr,
    async connect() {
      const client = await RawClient.connect(listener.addr);
      clients.push(client);
      return client;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Waits until every node has heard from every other one. */
export async function meshed(nodes: readonly TestNode[]): Promise<void> {
  await waitFor(
    () => nodes.every((n) => n.forward.nodes().length >= nodes.length - 1),
    { timeout: 5000, message: "the nodes to hear from each other" },
  );
}
