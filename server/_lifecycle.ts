// What a server starts and stops with: its listeners and their accept
// loops, the components' hooks, the idle sweep, and the broker channels.

import type { ByteStream } from "../transport/byte_stream.ts";
import { acceptLoop } from "./_accept.ts";
import { closeIdle, drainSessions } from "./_admission.ts";
import { type ComponentHooks, componentName } from "./component.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import { disposeAll } from "./_create_core.ts";
import {
  type Listener,
  type ListenOptions,
  type OpenListener,
  openListener,
} from "./listener.ts";
import type { ServerOptions } from "./options.ts";
import { type NamedComponent, runShutdownHooks } from "./_shutdown_hooks.ts";

export class Lifecycle {
  /** The listeners accepting, as `server.listeners` shows them. */
  readonly listeners: Listener[] = [];
  /** Every listener bound, closed or not: `release` runs at the stop. */
  readonly #opened: OpenListener[] = [];
  readonly accepting: Promise<void>[] = [];
  readonly channels: Disposable[] = [];
  readonly components: NamedComponent[] = [];
  readonly #core: ServerCore;
  readonly #options: ServerOptions;
  readonly #ownsBroker: boolean;
  #idleTimer?: ReturnType<typeof setInterval>;

  constructor(core: ServerCore, options: ServerOptions) {
    this.#core = core;
    this.#options = options;
    this.#ownsBroker = options.broker === undefined;
  }

  /** Adds a component whose hooks run with the server's (named as `name`). */
  addComponent(component: object, name?: string): void {
    const hooks = component as ComponentHooks;
    this.components.push({ name: name ?? componentName(component), hooks });
  }

  /** Runs the components' init hooks, readies the broker, starts sweeping. */
  async start(): Promise<void> {
    const core = this.#core;
    for (const { hooks } of this.components) await hooks.init?.();
    for (const { hooks } of this.components) await hooks.afterInit?.();
    await core.broker.ready?.();
    await core.forward?.attach();
    const idle = this.#options.idleTimeout ?? 0;
    if (idle > 0) {
      this.#idleTimer = setInterval(
        () => closeIdle(core, idle),
        Math.min(idle / 2, 1000),
      );
      Deno.unrefTimer(this.#idleTimer as unknown as number);
    }
  }

  /**
   * Binds `options` and accepts on it, each peer given to `serve`, until
   * the listener's `close()` or `stopping()`.
   */
  async listen(
    options: ListenOptions,
    stopping: () => boolean,
    serve: (stream: ByteStream) => Promise<void>,
  ): Promise<Listener> {
    const core = this.#core;
    const refused = () =>
      stopping()
        ? "Server is shutting down"
        : core.ops.refuseAll
        ? "Server is draining: it accepts no new sessions"
        : undefined;
    if (refused()) throw new Error(refused());
    const open = await openListener(options, core);
    const late = refused();
    if (late) {
      // Shut down or drained meanwhile, without this listener: an HTTP
      // listener's close() alone would keep its port bound.
      try {
        await open.close();
      } finally {
        await open.release?.();
      }
      throw new Error(late);
    }
    this.#opened.push(open);
    let closing: Promise<void> | undefined;
    const loop = acceptLoop(open, {
      stopping: () => stopping() || closing !== undefined,
      logger: core.logger,
      open: serve,
    });
    this.accepting.push(loop);
    const { addr, url, transport } = open;
    const listener: Listener = {
      addr,
      url,
      transport,
      close: () =>
        closing ??= (async () => {
          this.listeners.splice(this.listeners.indexOf(listener), 1);
          await open.close();
          await loop;
          core.logger.info(`stopped listening on ${url}`);
        })(),
    };
    this.listeners.push(listener);
    core.logger.info(`listening on ${url}`);
    return listener;
  }

  /** Closes every listener still accepting. */
  async closeListeners(): Promise<void> {
    await Promise.all([...this.listeners].map((l) => l.close()));
  }

  /** The graceful shutdown `Server.shutdown` describes. */
  async stop(): Promise<void> {
    const core = this.#core;
    const limit = this.#options.shutdownTimeout ?? 10_000;
    const runHooks = (hook: "beforeShutdown" | "shutdown") =>
      runShutdownHooks(this.components, { hook, limit, logger: core.logger });
    core.logger.info("shutting down");
    await this.closeListeners();
    await Promise.all(this.accepting);
    await runHooks("beforeShutdown");
    await drainSessions(core, limit);
    await core.forward?.detach().catch((err) =>
      core.logger.error(`leaving the cluster failed: ${errorMessage(err)}`)
    );
    await Promise.all(this.#opened.map((l) => l.release?.()));
    clearInterval(this.#idleTimer);
    for (const group of [...core.groups.values()]) group.close();
    disposeAll(this.channels, "a broker channel", core.logger);
    if (this.#ownsBroker) await core.broker.close();
    await runHooks("shutdown");
    core.logger.info("shut down");
  }
}
