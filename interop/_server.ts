/**
 * Starts our server the way a user does (`deno task server`'s command with
 * its permissions), on an ephemeral TCP port, a UNIX socket, an ephemeral
 * HTTP port (its WebSocket endpoint `/nanorpc`) and optionally a serial
 * line, and learns the bound addresses from its "listening on" lines.
 *
 * @module
 */

import { ROOT } from "./_exec.ts";

/** A server process started by {@linkcode startServer}. */
export interface RunningServer {
  host: string;
  port: number;
  unixPath: string;
  /** The WebSocket endpoint, `ws://127.0.0.1:PORT/nanorpc`. */
  wsUrl: string;
  /** Everything the server printed so far. */
  log(): string;
  /** Sends SIGTERM and resolves with the exit code (null: had to kill). */
  stop(): Promise<number | null>;
}

/** The `deno task server` command line, run directly so signals reach it. */
async function serverCommand(): Promise<string[]> {
  try {
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
    const words = String(config.tasks.server).trim().split(/\s+/);
    const plain = words.every((w) => /^[\w@./:=,-]+$/.test(w));
    if (words[0] === "deno" && plain) return words.slice(1);
  } catch {
    // fall through to the default
  }
  return ["run", "-A", "server/main.ts"];
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(onLine);
  }
  if (pending) onLine(pending);
}

/** Where the server listens besides its ephemeral TCP and HTTP ports. */
export interface ServerPlaces {
  /** The UNIX socket's path. */
  unixPath: string;
  /** A serial device (one end of a pty pair) to serve with `--serial`. */
  serialPath?: string;
}

/** Starts the server and waits (up to 60 s) until every listener is bound. */
export async function startServer(
  places: ServerPlaces,
): Promise<RunningServer> {
  const { unixPath, serialPath } = places;
  const args = [
    ...await serverCommand(),
    ...["--tcp", "127.0.0.1:0", "--unix", unixPath, "--http", "127.0.0.1:0"],
    ...(serialPath ? ["--serial", serialPath] : []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  type Bound = { host: string; port: number; wsUrl: string };
  const ready = Promise.withResolvers<Bound>();
  let tcp: { host: string; port: number } | null = null;
  let wsUrl = "";
  let unix = false;
  let serial = !serialPath;
  const onLine = (line: string) => {
    lines.push(line);
    const t = line.match(/listening on tcp:\/\/([\d.]+):(\d+)/);
    if (t) tcp = { host: t[1], port: Number(t[2]) };
    const h = line.match(/listening on http:\/\/([\d.]+):(\d+)/);
    if (h) wsUrl = `ws://${h[1]}:${h[2]}/nanorpc`;
    if (line.includes(`listening on unix://${unixPath}`)) unix = true;
    if (line.includes(`serving serial://${serialPath}`)) serial = true;
    if (tcp && unix && wsUrl && serial) ready.resolve({ ...tcp, wsUrl });
  };
  const drained = Promise.all([
    pump(child.stdout, onLine),
    pump(child.stderr, (l) => lines.push(l)),
  ]);
  child.status.then((s) =>
    ready.reject(new Error(`server exited (${s.code})`))
  );
  const timer = setTimeout(
    () => ready.reject(new Error("no listening lines within 60 s")),
    60_000,
  );
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const status = await child.status;
    clearTimeout(kill);
    await drained;
    return status.signal === "SIGKILL" ? null : status.code;
  };
  try {
    const bound = await ready.promise;
    return { ...bound, unixPath, log: () => lines.join("\n"), stop };
  } catch (err) {
    await stop();
    throw new Error(
      `${(err as Error).message}; server output:\n${lines.join("\n")}`,
    );
  } finally {
    clearTimeout(timer);
  }
}
