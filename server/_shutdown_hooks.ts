// The components' shutdown hooks, each given a bounded time: a hook that
// never settles must not hold the server's shutdown (and with it the
// process) forever, and one that throws must not cut the shutdown short.

import type { ComponentHooks } from "./component.ts";
import { errorMessage } from "./_core.ts";
import type { Logger } from "./logger.ts";
import { timerFor } from "./_timer.ts";

/**
 * A registered component and the name it was registered under (the logs
 * name it).
 *
 * @example
 * ```ts ignore
 * const room: NamedComponent = { name: "room", hooks: new RoomComponent() };
 * ```
 */
export interface NamedComponent {
  /** The component's path segment, as `register` gave it. */
  readonly name: string;
  /** The component itself: its hooks are its methods. */
  readonly hooks: ComponentHooks;
}

/**
 * How {@link runShutdownHooks} runs the hooks.
 *
 * @example
 * ```ts ignore
 * const options: ShutdownHooksOptions = {
 *   hook: "shutdown",
 *   limit: 10_000,
 *   logger: console,
 * };
 * ```
 */
export interface ShutdownHooksOptions {
  /** Which hook: `beforeShutdown` or `shutdown`. */
  hook: "beforeShutdown" | "shutdown";
  /**
   * Milliseconds each hook is given; 2^31 ms or more (Infinity) waits as
   * long as it takes.
   */
  limit: number;
  /** Where failures and overruns are logged. */
  logger: Logger;
}

const OVERRAN = Symbol("overran");

/**
 * Runs `options.hook` of every component in registration order, each given
 * up to `options.limit` ms. A hook that throws or rejects is logged as an
 * error. A hook still running at the limit is logged as an error, naming
 * its component and the limit, and left behind: the next hook starts and
 * the shutdown goes on (when it settles later, that is logged too).
 *
 * @param components The components, in registration order.
 * @param options The hook, the time each is given, the logger.
 * @returns A promise that resolves when every hook has settled or been
 * left behind; it never rejects.
 *
 * @example
 * ```ts ignore
 * await runShutdownHooks(components, {
 *   hook: "beforeShutdown",
 *   limit: 10_000,
 *   logger: console,
 * });
 * ```
 */
export async function runShutdownHooks(
  components: readonly NamedComponent[],
  options: ShutdownHooksOptions,
): Promise<void> {
  for (const component of components) await runOne(component, options);
}

async function runOne(
  { name, hooks }: NamedComponent,
  { hook, limit, logger }: ShutdownHooksOptions,
): Promise<void> {
  const what = `component ${name} ${hook} hook`;
  const started = performance.now();
  let overran = false;
  let running: Promise<unknown>;
  try {
    running = Promise.resolve(hooks[hook]?.());
  } catch (err) {
    running = Promise.reject(err);
  }
  const late = () => overran ? ` late, after ${since(started)} ms` : "";
  const settled = running.then(
    () => overran && logger.info(`${what} finished${late()}`),
    (err) => logger.error(`${what} failed${late()}: ${errorMessage(err)}`),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    settled,
    new Promise<typeof OVERRAN>((resolve) =>
      timer = timerFor(() => {
        overran = true;
        resolve(OVERRAN);
      }, limit)
    ),
  ]);
  clearTimeout(timer);
  if (outcome !== OVERRAN) return;
  logger.error(
    `${what} still running after ${limit} ms (shutdownTimeout): shutdown goes on without it`,
  );
}

function since(started: number): number {
  return Math.round(performance.now() - started);
}
