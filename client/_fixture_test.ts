/**
 * A real server for client tests: the demo routes plus a few test routes,
 * on TCP port 0 or a UNIX socket in a temporary directory, restartable on
 * the same address. Named `_test.ts` so it is never published; it holds no
 * tests itself.
 *
 * @module
 */

import { registerDemo } from "../server/demo.ts";
import { Server } from "../server/mod.ts";

export type Transport = "tcp" | "unix";

const quiet = () => {};
const SILENT = { error: quiet, warn: quiet, info: quiet, debug: quiet };

/** Lets a test hold a handler open and release it. */
export class Gate {
  #open!: () => void;
  readonly opened: Promise<void> = new Promise((r) => this.#open = r);
  open(): void {
    this.#open();
  }
}

/** The server a client test talks to. */
export class Fixture {
  server: Server;
  url = "";
  /** Where the UNIX socket lives, or the TCP port once bound. */
  readonly #transport: Transport;
  #port = 0;
  #dir = "";
  /** Gates of `/hold` requests, in arrival order. */
  readonly holds: Gate[] = [];

  private constructor(transport: Transport) {
    this.#transport = transport;
    this.server = this.#make();
  }

  static async start(transport: Transport): Promise<Fixture> {
    const fixture = new Fixture(transport);
    if (transport === "unix") fixture.#dir = await Deno.makeTempDir();
    await fixture.#listen();
    return fixture;
  }

  /**
   * Stops the server: gracefully, but `/hold` requests outlive its 100 ms
   * shutdown timeout, so they are in flight when the sessions close.
   */
  async stop(): Promise<void> {
    await this.server.shutdown();
    for (const gate of this.holds) gate.open();
  }

  /** Starts a fresh server on the same port or socket path. */
  async restart(): Promise<void> {
    this.server = this.#make();
    await this.#listen();
  }

  /** Stops the server and removes its temporary directory. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true });
  }

  #make(): Server {
    const server = new Server({ logger: SILENT, shutdownTimeout: 100 });
    registerDemo(server);
    server.topic("/ticks");
    server.handle("/fail", () => {
      throw new Error("boom");
    });
    server.handle("/sleep", async (ctx) => {
      await new Promise((r) => setTimeout(r, Number(ctx.data[0] ?? 50)));
      return "slept";
    }, { concurrent: true });
    server.handle("/hold", async () => {
      const gate = new Gate();
      this.holds.push(gate);
      await gate.opened;
      return "released";
    }, { concurrent: true });
    return server;
  }

  async #listen(): Promise<void> {
    const listener = this.#transport === "unix"
      ? await this.server.listen({ path: `${this.#dir}/nanorpc.sock` })
      : await this.server.listen({ hostname: "127.0.0.1", port: this.#port });
    if (listener.addr.transport === "tcp") this.#port = listener.addr.port;
    this.url = listener.url;
  }
}

/** Resolves once `predicate` holds, polling every few milliseconds. */
export async function until(
  predicate: () => boolean,
  timeout = 5000,
): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error("Timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}
