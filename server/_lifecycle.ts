// What a server starts and stops with: its listeners and their accept
// loops, the components' hooks, the idle sweep, and the broker channels.

import { closeIdle, drainSessions } from "./_admission.ts";
import { type ComponentHooks, runHooks } from "./component.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import { disposeAll } from "./_create_core.ts";
import type { OpenListener } from "./listener.ts";
import type { ServerOptions } from "./options.ts";

export class Lifecycle {
  readonly listeners: OpenListener[] = [];
  readonly accepting: Promise<void>[] = [];
  readonly channels: Disposable[] = [];
  readonly components: ComponentHooks[] = [];
  readonly #core: ServerCore;
  readonly #options: ServerOptions;
  readonly #ownsBroker: boolean;
  #idleTimer?: ReturnType<typeof setInterval>;

  constructor(core: ServerCore, options: ServerOptions) {
    this.#core = core;
    this.#options = options;
    this.#ownsBroker = options.broker === undefined;
  }

  /** Runs the components' init hooks, readies the broker, starts sweeping. */
  async start(): Promise<void> {
    const core = this.#core;
    for (const component of this.components) await component.init?.();
    for (const component of this.components) await component.afterInit?.();
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

  /** The graceful shutdown `Server.shutdown` describes. */
  async stop(): Promise<void> {
    const core = this.#core;
    core.logger.info("shutting down");
    await Promise.all(this.listeners.map((l) => l.close()));
    await Promise.all(this.accepting);
    await runHooks(this.components, "beforeShutdown", core.logger);
    await drainSessions(core, this.#options.shutdownTimeout ?? 10_000);
    await core.forward?.detach().catch((err) =>
      core.logger.error(`leaving the cluster failed: ${errorMessage(err)}`)
    );
    await Promise.all(this.listeners.map((l) => l.release?.()));
    clearInterval(this.#idleTimer);
    for (const group of [...core.groups.values()]) group.close();
    disposeAll(this.channels, "a broker channel", core.logger);
    if (this.#ownsBroker) await core.broker.close();
    await runHooks(this.components, "shutdown", core.logger);
    core.logger.info("shut down");
  }
}
