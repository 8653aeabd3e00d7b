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

/** A `deno task server` process. */
export interface ServerProcess extends AsyncDisposable {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Its first TCP listener. */
  readonly addr: Deno.NetAddr;
  /** Lines it printed so far (stdout and stderr). */
  readonly lines: readonly string[];
  /** Resolves with the first line matching `pattern`, waiting for it. */
  waitFor(pattern: RegExp, timeout?: number): Promise<string>;
  /** Sends `signal` (SIGKILL by default) and waits for the exit. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

const root = new URL("../", import.meta.url);

/** The `deno run` flags of the `server` task in deno.json. */
async function taskFlags(): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  ) as { tasks: Record<string, string> };
  return config.tasks.server.split(/\s+/).filter((w) => w.startsWith("--"));
}

/**
 * Starts what `deno task server ARGS` starts (the task's own `deno run`
 * command, so that the process is the server itself and a kill reaches
 * it), and waits for its first `listening on tcp://` line.
 *
 * @param args The server's flags; `--log-level warn` is added.
 */
export async function spawnServer(args: string[]): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...await taskFlags(),
      new URL("cluster/main.ts", root).pathname,
      "--log-level",
      "warn",
      ...args,
    ],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const lines: string[] = [];
  let changed = Promise.withResolvers<void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      changed.resolve();
      changed = Promise.withResolvers();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    changed.resolve();
    return s;
  });
  const waitFor = async (pattern: RegExp, timeout = 20_000) => {
    const deadline = performance.now() + timeout;
    for (;;) {
      const hit = lines.find((l) => pattern.test(l));
      if (hit !== undefined) return hit;
      const left = deadline - performance.now();
      if (exited || left <= 0) {
        throw new Error(
          `No line matching ${pattern} ${
            exited ? "before the server exited" : `within ${timeout} ms`
          }; it printed:\n${lines.join("\n")}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        changed.promise,
        new Promise((r) => timer = setTimeout(r, left)),
      ]);
      clearTimeout(timer);
    }
  };
  const kill = async (signal: Deno.Signal = "SIGKILL") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch { /* exited meanwhile */ }
    }
    const s = await status;
    await pumps;
    return s;
  };
  let line: string;
  try {
    line = await waitFor(/listening on tcp:\/\//);
  } catch (err) {
    await kill();
    throw err;
  }
  const [, hostname, port] = line.match(/tcp:\/\/([^:\s]+):(\d+)/)!;
  return {
    child,
    addr: { transport: "tcp", hostname, port: Number(port) },
    lines,
    waitFor,
    kill,
    async [Symbol.asyncDispose]() {
      await kill("SIGTERM");
    },
  };
}
