/**
 * Test kit: a real `nats-server` on a free loopback port, for tests that
 * run brokers and cluster nodes against NATS. It can be stopped (killed,
 * like a crash) and restarted on the same port mid-test. Needs the
 * `nats-server` binary on `PATH` (Debian's package; `.ci/run` installs it)
 * or named by the `NATS_SERVER` environment variable. Outside CI a machine
 * without it skips those tests ({@link natsSkipReason}); in CI (`CI=true`)
 * they fail.
 *
 * @module
 */

import {
  binaryCommand,
  binarySkipReason,
  type NeededBinary,
} from "./_binary.ts";
import { waitFor } from "./wait.ts";

const NATS_SERVER: NeededBinary = {
  command: "nats-server",
  envVar: "NATS_SERVER",
  pkg: "nats-server",
  tests: "tests that need nats-server",
};

/**
 * Why tests that start `nats-server` should be skipped here, or
 * `undefined` to run them: the binary (or the path in `NATS_SERVER`) is
 * missing and this is not CI. In CI (`CI=true`) it always returns
 * `undefined`, so the tests run and {@link startNatsServer} fails loudly.
 * Prints the reason, with the package to install, once.
 *
 * @returns The reason to skip, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { natsSkipReason, startNatsServer } from "../testing/nats.ts";
 *
 * Deno.test("NATS answers", {
 *   ignore: natsSkipReason() !== undefined,
 * }, async () => {
 *   await using nats = await startNatsServer();
 *   console.log(nats.url);
 * });
 * ```
 */
export function natsSkipReason(): string | undefined {
  return binarySkipReason(NATS_SERVER);
}

/**
 * Registers tests that need nats-server: `needsNats.test(...)` is
 * `Deno.test` where it runs, `Deno.test.ignore` where it is missing outside
 * CI (see {@link natsSkipReason}).
 *
 * @example
 * ```ts ignore
 * import { needsNats, startNatsServer } from "../testing/nats.ts";
 *
 * needsNats.test("NATS answers", async () => {
 *   await using nats = await startNatsServer();
 *   console.log(nats.url);
 * });
 * ```
 */
export const needsNats: { readonly test: Deno.TestIgnore } = {
  // Looked up when a test registers, not when this module loads.
  get test(): Deno.TestIgnore {
    return natsSkipReason() === undefined ? Deno.test : Deno.test.ignore;
  },
};

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /**
   * Largest message the server accepts, in bytes; 8 MiB by default, so a
   * 1 MiB update fits in a broker envelope (the server's own default is
   * 1 MiB).
   */
  maxPayload?: number;
  /** Milliseconds to wait for the server to accept connections; 10000. */
  timeout?: number;
}

/** A running `nats-server`. */
export interface NatsServer extends AsyncDisposable {
  /** Where clients connect, e.g. `nats://127.0.0.1:41234`. */
  readonly url: string;
  /** The port, kept across {@link NatsServer.restart}. */
  readonly port: number;
  /** Whether the process is running. */
  readonly running: boolean;
  /**
   * Ends the process and waits for it to exit. `SIGKILL` (the default)
   * stands for a crash; `SIGTERM` for an orderly stop.
   */
  stop(signal?: Deno.Signal): Promise<void>;
  /** Starts the server again on the same port; resolves once it accepts. */
  restart(): Promise<void>;
  /**
   * Suspends the process (`SIGSTOP`): connections stay open and nothing is
   * answered, as with a server that hangs. Resolves once the process is
   * stopped (a loaded machine can take a while to stop it: until then it
   * still answers).
   */
  freeze(): Promise<void>;
  /** Resumes a frozen process (`SIGCONT`). */
  thaw(): void;
  /**
   * How many connections the server holds now (its monitoring endpoint's
   * `/connz`): a test can wait for it to notice a crash. A connection
   * counts until the server sees it end, the start's own probe of the
   * port included.
   */
  clients(): Promise<number>;
}

/** Whether process `pid` is stopped by a signal (state T in /proc). */
function stopped(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // "pid (comm) S ...": the state follows the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("T");
  } catch {
    return true; // Gone: it answers nothing either.
  }
}

const binary = () => binaryCommand(NATS_SERVER);

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function logTail(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).split("\n").slice(-10).join("\n");
  } catch {
    return "(no log)";
  }
}

/** What nats-server wrote to its ports file: client and monitoring ports. */
interface Ports {
  port: number;
  monitoring: string | undefined;
}

/** Reads the ports nats-server wrote to its ports file, if it did yet. */
async function readPortsFile(dir: string): Promise<Ports | undefined> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".ports")) continue;
    const text = await Deno.readTextFile(`${dir}/${entry.name}`);
    let urls: { nats?: string[]; monitoring?: string[] };
    try {
      urls = JSON.parse(text);
    } catch {
      continue; // Still being written: read it again on the next look.
    }
    const url = urls.nats?.[0];
    const port = Number(url?.slice(url.lastIndexOf(":") + 1));
    if (Number.isInteger(port) && port > 0) {
      return { port, monitoring: urls.monitoring?.[0] };
    }
  }
  return undefined;
}

/**
 * Starts `nats-server` on 127.0.0.1 with a port the kernel picks (its
 * `-p -1`), and resolves once it accepts connections.
 *
 * @param options Payload limit and start timeout.
 * @returns The running server; dispose it (or call `stop`) when done.
 * @throws {Error} When the binary is missing or the server does not start
 * in time (the message carries the end of its log).
 *
 * @example
 * ```ts ignore
 * import { startNatsServer } from "./nats.ts";
 *
 * await using nats = await startNatsServer();
 * console.log(nats.url);
 * await nats.stop(); // NATS goes away
 * await nats.restart(); // and comes back on the same port
 * ```
 */
export async function startNatsServer(
  options: NatsServerOptions = {},
): Promise<NatsServer> {
  const timeout = options.timeout ?? 10_000;
  const dir = await Deno.makeTempDir({ prefix: "nanorpc_nats_" });
  const log = `${dir}/nats.log`;
  await Deno.writeTextFile(
    `${dir}/nats.conf`,
    `max_payload: ${options.maxPayload ?? 8 * 1024 * 1024}\n`,
  );
  let child: Deno.ChildProcess | undefined;
  let port = -1;
  let monitoring: string | undefined;

  const spawn = async () => {
    try {
      child = new Deno.Command(binary(), {
        args: [
          "-a",
          "127.0.0.1",
          "-p",
          String(port),
          "-m",
          "-1",
          "-c",
          `${dir}/nats.conf`,
          "--ports_file_dir",
          dir,
          "-l",
          log,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Error(
          `${binary()} is not installed: run "apt-get install -y nats-server" (or set NATS_SERVER to its path)`,
        );
      }
      throw err;
    }
    let exited = false;
    const proc = child;
    proc.status.then(() => exited = true);
    const deadline = performance.now() + timeout;
    while (!exited && performance.now() < deadline) {
      if (monitoring === undefined) {
        const ports = await readPortsFile(dir);
        if (ports) ({ port, monitoring } = ports);
      }
      if (monitoring !== undefined && await accepts(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (!exited) proc.kill("SIGKILL");
    await proc.status;
    child = undefined;
    const why = exited ? "exited" : `did not accept within ${timeout} ms`;
    throw new Error(
      `nats-server ${why} (port ${port}); its log ends with:\n${await logTail(
        log,
      )}`,
    );
  };

  const stop = async (signal: Deno.Signal = "SIGKILL") => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    try {
      proc.kill(signal);
      proc.kill("SIGCONT"); // a frozen process acts on signals once resumed
    } catch { /* already exited */ }
    await proc.status;
    monitoring = undefined;
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.endsWith(".ports")) {
        await Deno.remove(`${dir}/${entry.name}`);
      }
    }
  };

  await spawn();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get running() {
      return child !== undefined;
    },
    stop,
    async freeze() {
      if (!child) return;
      const pid = child.pid;
      child.kill("SIGSTOP");
      await waitFor(() => stopped(pid), {
        timeout: 10_000,
        message: `nats-server (pid ${pid}) to stop on SIGSTOP`,
      });
    },
    thaw() {
      child?.kill("SIGCONT");
    },
    async clients() {
      if (!child || monitoring === undefined) {
        throw new Error("nats-server is not running");
      }
      const res = await fetch(`${monitoring}/connz`);
      if (!res.ok) throw new Error(`nats-server /connz: ${res.status}`);
      return ((await res.json()) as { num_connections: number })
        .num_connections;
    },
    async restart() {
      if (child) throw new Error("nats-server is running: stop() it first");
      await spawn();
    },
    async [Symbol.asyncDispose]() {
      await stop("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    },
  };
}
