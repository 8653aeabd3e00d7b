// What the load, paced, fan-out and memory benchmarks share: starting a
// target server as its own process, CPU accounting from /proc, and the
// results table; pre-encoded frames (_frames.ts) and the latency histogram
// (_histogram.ts) are re-exported. Internal to bench/.

export {
  ID_BASE,
  MAX_SLOTS,
  type PathForm,
  requestFrames,
  splitFrames,
} from "./_frames.ts";
export { Histogram } from "./_histogram.ts";

/** A target a benchmark can drive, and how to start it. */
export interface TargetSpec {
  /** Name in tables and JSON. */
  name: string;
  /** Script (relative to bench/) and its flags. */
  script: string;
  args: string[];
  /**
   * Driven over WebSocket: the script prints `listening on ws://…` and the
   * load generator connects there instead of to its TCP port.
   */
  websocket?: boolean;
}

/** The targets, in the order every benchmark runs them. */
export const TARGETS: readonly TargetSpec[] = [
  { name: "nanorpc-wasm", script: "serve.ts", args: ["--codec", "wasm"] },
  {
    name: "nanorpc-protobuf-es",
    script: "serve.ts",
    args: ["--codec", "protobuf-es"],
  },
  { name: "raw-echo", script: "raw_echo.ts", args: [] },
];

/** Name of the Go reference target, run only when its module is fetchable. */
export const GO_REFERENCE = "go-reference";

/** A server a benchmark drives: one it started, or one already running. */
export interface Target {
  readonly name: string;
  /**
   * The server's process, sampled for CPU and RSS; undefined for an
   * external server whose process is not known.
   */
  readonly pid: number | undefined;
  readonly hostname: string;
  readonly port: number;
  /** Set for a UNIX-socket server: hostname and port are then unused. */
  readonly path?: string;
  /** `tcp://HOST:PORT`, `unix://PATH` or `ws://HOST:PORT/PATH`. */
  readonly url: string;
  /** The `ws://` URL when the target is driven over WebSocket. */
  readonly websocket?: string;
  /** True for a server the benchmark did not start (and will not stop). */
  readonly external: boolean;
  /** CPU seconds (user + system) the process has used so far, or NaN. */
  cpuSeconds(): number;
  /**
   * Started ones: SIGTERM, then SIGKILL after 10 s; resolves when it has
   * exited. External ones: nothing.
   */
  stop(): Promise<void>;
}

/** Options of {@link startTarget}. */
export interface StartOptions {
  /** Extra flags for `deno run`, e.g. `--v8-flags=--expose-gc`. */
  denoFlags?: string[];
}

const BENCH_DIR = new URL(".", import.meta.url).pathname;

/**
 * Starts `spec` as a child process on an ephemeral loopback port and waits
 * (up to 60 s) for its `listening on tcp://HOST:PORT` line (for a
 * WebSocket target, `listening on ws://HOST:PORT/PATH`).
 */
export async function startTarget(
  spec: TargetSpec,
  options: StartOptions = {},
): Promise<Target> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(options.denoFlags ?? []),
      new URL(spec.script, import.meta.url).pathname,
      ...spec.args,
      "--tcp",
      "127.0.0.1:0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  forward(child.stderr, `[${spec.name}] `, console.error, false);
  const lines = forward(child.stdout, `[${spec.name}] `, console.log, true);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let match: RegExpMatchArray | null = null;
  const listening = spec.websocket
    ? /listening on ws:\/\/(.+):(\d+)(\/\S*)\s*$/
    : /listening on tcp:\/\/(.+):(\d+)\s*$/;
  for await (const line of lines) {
    match = line.match(listening);
    if (match) break;
    console.log(`[${spec.name}] ${line}`); // Said before it listened.
  }
  clearTimeout(timer);
  if (!match) {
    await child.status;
    throw new Error(`${spec.name} exited before it said "listening on"`);
  }
  const pid = child.pid;
  return {
    name: spec.name,
    pid,
    hostname: match[1].replace(/^\[(.*)\]$/, "$1"),
    port: Number(match[2]),
    url: `${spec.websocket ? "ws" : "tcp"}://${match[1]}:${match[2]}${
      match[3] ?? ""
    }`,
    websocket: spec.websocket
      ? `ws://${match[1]}:${match[2]}${match[3]}`
      : undefined,
    external: false,
    cpuSeconds: () => cpuSeconds(pid),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const kill = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 10_000);
      await child.status;
      clearTimeout(kill);
    },
  };
}

/**
 * Reads `stream` line by line in the background and prints each line with
 * `prefix`, except that while `claimed` the lines go to the returned
 * iterator instead, until it is done with.
 */
function forward(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  print: (line: string) => void,
  claimed: boolean,
): AsyncIterable<string> {
  const waiting: ((line: string | null) => void)[] = [];
  const early: (string | null)[] = [];
  (async () => {
    let rest = "";
    const push = (line: string | null) => {
      if (!claimed) {
        if (line !== null) print(prefix + line);
        return;
      }
      const w = waiting.shift();
      if (w) w(line);
      else early.push(line);
    };
    for await (
      const chunk of stream.pipeThrough(new TextDecoderStream())
    ) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
    if (rest) push(rest);
    push(null);
  })();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const line = early.length > 0
            ? early.shift()!
            : await new Promise<string | null>((r) => waiting.push(r));
          if (line === null) return;
          yield line;
        }
      } finally {
        claimed = false;
        for (const line of early.splice(0)) {
          if (line !== null) print(prefix + line);
        }
      }
    },
  };
}

/** CPU seconds (user + system) of process `pid`, from /proc, or NaN. */
export function cpuSeconds(pid: number | "self" | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of proc(5), counted from "state" as field 3.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = 100;

/**
 * CPU seconds all cores of the machine have spent busy so far (from
 * /proc/stat), so a run can tell how much CPU other processes took.
 */
export function machineBusySeconds(): number {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0];
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = t.reduce((a, b) => a + b, 0);
    // user nice system idle iowait irq softirq steal (guest time is already
    // in user): busy is everything but idle and iowait.
    return (total - t[3] - (t[4] ?? 0)) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * Waits until the rest of the machine is quiet: busy at most `percent` of
 * one core over a one-second sample (this process and idle targets count
 * too, which is why they must be idle when this is called). Gives up after
 * `timeoutSeconds` and says so; returns the last busy figure.
 */
export async function waitQuiet(
  percent = 15,
  timeoutSeconds = 180,
): Promise<number> {
  const deadline = performance.now() + timeoutSeconds * 1000;
  let said = false;
  for (;;) {
    const b0 = machineBusySeconds();
    await sleep(1000);
    const busy = (machineBusySeconds() - b0) * 100;
    if (!(busy > percent)) return busy;
    if (performance.now() > deadline) {
      console.log(`machine still ${busy.toFixed(0)}% busy: measuring anyway`);
      return busy;
    }
    if (!said) {
      console.log(
        `waiting for other processes to go quiet (${busy.toFixed(0)}% of a ` +
          `core busy)…`,
      );
      said = true;
    }
  }
}

/**
 * Opens `n` connections, `parallel` at a time: to the UNIX socket `path`
 * when set, else over TCP with no-delay set.
 */
export async function connectMany(
  target: { hostname: string; port: number; path?: string },
  n: number,
  parallel = 100,
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      if (target.path !== undefined) {
        conns.push(
          await Deno.connect({ transport: "unix", path: target.path }),
        );
        continue;
      }
      const conn = await Deno.connect({
        hostname: target.hostname,
        port: target.port,
      });
      conn.setNoDelay(true);
      conns.push(conn);
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(parallel, n) }, worker),
    );
  } catch (err) {
    closeAll(conns);
    throw err;
  }
  return conns;
}

/** Closes every connection, ignoring ones already closed. */
export function closeAll(conns: Iterable<{ close(): void }>): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Pick<Deno.Conn, "write">,
  bytes: Uint8Array,
) {
  let n = 0;
  while (n < bytes.length) n += await conn.write(bytes.subarray(n));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `nproc` and the CPU model, for every report. */
export function machine(): { cores: number; cpu: string; deno: string } {
  let cpu = "unknown";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpu;
  } catch {
    // Not Linux.
  }
  return {
    cores: navigator.hardwareConcurrency,
    cpu,
    deno: Deno.version.deno,
  };
}

/** The line every benchmark prints about the machine it shares. */
export function machineNote(): string {
  const m = machine();
  return `machine: ${m.cores} cores (${m.cpu}), Deno ${m.deno}; the server ` +
    `and the load generator run as separate processes sharing these cores, ` +
    `over loopback.`;
}

/** A markdown table of `rows` under `header`. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(header),
    line(header.map(() => "---")),
    ...rows.map(line),
  ].join("\n");
}

/** A path given on the command line, made absolute against the cwd. */
export function fromCwd(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/** Writes `value` as JSON to `path` (relative to bench/), creating dirs. */
export async function writeResults(path: string, value: unknown) {
  const full = path.startsWith("/") ? path : BENCH_DIR + path;
  await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(full, JSON.stringify(value, null, 2) + "\n");
  console.log(`wrote ${path.startsWith("/") ? path : `bench/${path}`}`);
}

/** Formats a number with `digits` decimals, or "–" for NaN. */
export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}
