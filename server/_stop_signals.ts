// How a process that runs a server answers its signals, on purpose rather
// than by Deno's defaults. Deno gives a signal its default action (ending
// the process) whenever no listener is installed for it, so these stay
// installed from before the server is made until the process is done.
// Removing them to shut down lets a second SIGTERM (or a supervisor's
// SIGTERM after a drain) end the process without a word, mid-shutdown.

/** What SIGUSR2 drains: a server, or a pool of workers (`Workers`). */
export interface Drainable {
  drain(options: { window: number }): Promise<unknown>;
}

/** The signals that stop the process: Windows has no SIGTERM. */
const STOPS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/** Exit status of a stop at once: 128 + the signal's number, as shells. */
const STATUS: Partial<Record<Deno.Signal, number>> = {
  SIGINT: 130,
  SIGTERM: 143,
  SIGBREAK: 149,
};

/**
 * Options of {@link StopSignals}.
 *
 * @example
 * ```ts ignore
 * using signals = new StopSignals({ drainWindow: 30_000 });
 * ```
 */
export interface StopSignalsOptions {
  /**
   * Milliseconds over which SIGUSR2 drains the server before it stops (see
   * `DrainOptions.window`). Default 10,000.
   */
  drainWindow?: number;
  /** What the process runs, in its log lines. Default "the server". */
  subject?: string;
}

/**
 * The signals of a process that runs a server, answered deliberately:
 *
 * - the first SIGINT or SIGTERM stops it gracefully ({@link stopped}
 *   resolves; the caller then shuts the server down);
 * - a second SIGINT or SIGTERM, while that graceful stop runs, ends the
 *   process at once with status 130 or 143, saying so on stderr (the
 *   convention of "press Ctrl+C again to force");
 * - SIGUSR2 drains the server given to {@link serve} over `drainWindow`
 *   ms, then stops it; one arriving before `serve` (nothing accepted yet,
 *   so nothing to drain) stops it gracefully, and one arriving while it
 *   drains or stops is ignored, saying so.
 *
 * A stop that did not come from a signal (the drain's end, {@link stop})
 * is no first signal: the next SIGTERM still asks for a graceful stop, so
 * a supervisor's SIGTERM after a drain does not cut the shutdown short.
 * Windows has SIGINT and SIGBREAK only, and no drain. Before the process
 * has made its `StopSignals` (while its modules load) signals keep their
 * default action: a supervisor should wait for the "listening on" line.
 *
 * @example
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { StopSignals } from "./_stop_signals.ts";
 *
 * using signals = new StopSignals({ drainWindow: 30_000 });
 * const server = new Server();
 * // (a Workers pool drains as well: signals.serve(pool, "4 workers"))
 * await server.listen({ port: 7411 });
 * signals.serve(server);
 * await signals.stopped;
 * await server.shutdown();
 * ```
 */
export class StopSignals implements Disposable {
  readonly #stopped = Promise.withResolvers<void>();
  readonly #window: number;
  readonly #installed: [Deno.Signal, () => void][] = [];
  readonly #subject: string;
  #server?: Drainable;
  #draining = "";
  #state: "running" | "draining" | "stopping" = "running";
  #signalled = false;

  /**
   * Installs the signal listeners, until disposed. Make it before the
   * server, so that a signal while the server starts is answered too.
   *
   * @param options How long a drain lasts.
   */
  constructor(options: StopSignalsOptions = {}) {
    this.#window = options.drainWindow ?? 10_000;
    this.#subject = options.subject ?? "the server";
    for (const signal of STOPS) {
      this.#install(signal, () => this.#onStop(signal));
    }
    if (Deno.build.os !== "windows") {
      this.#install("SIGUSR2", () => this.#onDrain());
    }
  }

  /** Resolves when the process should stop: shut the server down then. */
  get stopped(): Promise<void> {
    return this.#stopped.promise;
  }

  /**
   * From now on SIGUSR2 drains `server`. Call it once the server listens:
   * a drain stops accepting, so one begun sooner would make the next
   * `listen` fail.
   *
   * @param server The server (or pool) SIGUSR2 drains.
   * @param what What the drain line names ("2 workers"), if anything.
   */
  serve(server: Drainable, what?: string): void {
    this.#server = server;
    this.#draining = what ? ` ${what}` : "";
  }

  /** Stops gracefully for another reason than a signal. */
  stop(): void {
    this.#state = "stopping";
    this.#stopped.resolve();
  }

  /** Removes the listeners: the signals get their default action back. */
  [Symbol.dispose](): void {
    for (const [signal, listener] of this.#installed.splice(0)) {
      Deno.removeSignalListener(signal, listener);
    }
  }

  #install(signal: Deno.Signal, listener: () => void): void {
    Deno.addSignalListener(signal, listener);
    this.#installed.push([signal, listener]);
  }

  #onStop(signal: Deno.Signal): void {
    if (this.#signalled) {
      console.error(
        `${signal} again: stopping at once, cutting off what the graceful shutdown still waited for`,
      );
      Deno.exit(STATUS[signal] ?? 1);
    }
    this.#signalled = true;
    console.log(
      `${signal}: shutting down gracefully (another SIGINT or SIGTERM stops at once)`,
    );
    this.stop();
  }

  #onDrain(): void {
    if (this.#state !== "running") {
      console.log(
        `SIGUSR2 ignored: ${this.#subject} is already ${this.#state}`,
      );
      return;
    }
    const server = this.#server;
    if (!server) {
      console.log(
        `SIGUSR2 before ${this.#subject} started: nothing to drain, shutting down`,
      );
      this.stop();
      return;
    }
    this.#state = "draining";
    console.log(
      `SIGUSR2: draining${this.#draining} over ${this.#window} ms, then stopping`,
    );
    server.drain({ window: this.#window }).catch((err) =>
      console.error(`drain failed: ${err instanceof Error ? err.message : err}`)
    ).finally(() => this.stop());
  }
}
