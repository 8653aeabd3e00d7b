// What the stress checks share: `deno task server` as a child process,
// with its resident memory and open descriptors read from /proc (Linux
// only), and the pass/fail lines of the report. Internal to bench/.

const MAIN = new URL("../server/main.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;

/** One pass/fail line of the final report. */
export interface Check {
  name: string;
  pass: boolean;
}

/** The counters `deno task server` prints when it shuts down. */
export interface ServerSummary {
  line: string;
  sessions: number;
  framesIn: number;
  framesOut: number;
  malformed: number;
  dropped: number;
}

/** `deno task server` running as a child process on a free port. */
export class ServerChild {
  readonly pid: number;
  readonly addr: { hostname: string; port: number };
  #child: Deno.ChildProcess;
  #lines: string[];
  #stderrLines = 0;
  #exited = false;

  private constructor(
    child: Deno.ChildProcess,
    addr: { hostname: string; port: number },
    lines: string[],
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.addr = addr;
    this.#lines = lines;
    child.status.then(() => this.#exited = true);
    this.#countStderr();
  }

  /**
   * Starts the server on `port` (0: a free one) and waits for its
   * `listening on` line.
   */
  static async start(port = 0): Promise<ServerChild> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--tcp",
        `127.0.0.1:${port}`,
        "--log-level",
        "error",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const listening = Promise.withResolvers<string>();
    collectLines(child.stdout, (line) => {
      lines.push(line);
      const m = line.match(/listening on tcp:\/\/(.+):(\d+)$/);
      if (m) listening.resolve(line);
    }).then(() =>
      listening.reject(new Error("server exited before listening"))
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const line = await listening.promise;
      const m = line.match(/listening on tcp:\/\/(.+):(\d+)$/)!;
      return new ServerChild(
        child,
        { hostname: m[1], port: Number(m[2]) },
        lines,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return !this.#exited;
  }

  /** Lines the server wrote to stderr (errors it logged). */
  get stderrLines(): number {
    return this.#stderrLines;
  }

  /** Resident memory in bytes (VmRSS), or NaN once it has exited. */
  rss(): number {
    try {
      const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
      const m = status.match(/^VmRSS:\s+(\d+) kB$/m);
      return m ? Number(m[1]) * 1024 : NaN;
    } catch {
      return NaN;
    }
  }

  /** Open file descriptors (one per live connection, plus a fixed few). */
  fds(): number {
    try {
      let n = 0;
      for (const _ of Deno.readDirSync(`/proc/${this.pid}/fd`)) n++;
      return n;
    } catch {
      return NaN;
    }
  }

  /** Kills the process at once (SIGKILL) and waits for it to be gone. */
  async kill(): Promise<void> {
    if (this.alive) this.#child.kill("SIGKILL");
    await this.#child.status;
  }

  /** SIGTERM, then the summary line (SIGKILL after 20 s). */
  async stop(): Promise<ServerSummary | undefined> {
    if (this.alive) this.#child.kill("SIGTERM");
    const kill = setTimeout(() => this.#child.kill("SIGKILL"), 20_000);
    const status = await this.#child.status;
    clearTimeout(kill);
    // Let the stdout reader take the last line.
    await new Promise((r) => setTimeout(r, 50));
    const line = this.#lines.find((l) => l.startsWith("served "));
    if (!status.success || !line) return undefined;
    const n = (re: RegExp) => Number(line.match(re)?.[1] ?? NaN);
    return {
      line,
      sessions: n(/served (\d+) sessions/),
      framesIn: n(/(\d+) frames in/),
      framesOut: n(/(\d+) out/),
      malformed: n(/(\d+) malformed/),
      dropped: n(/(\d+) updates dropped/),
    };
  }

  async #countStderr(): Promise<void> {
    await collectLines(this.#child.stderr, (line) => {
      if (this.#stderrLines++ < 5) console.error(`[server] ${line}`);
    });
  }
}

async function collectLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) onLine(rest);
}

/** Megabytes, for printing. */
export function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MB`;
}

/** Samples a value every `ms` and keeps its peak. */
export class PeakSampler {
  peak: number;
  #timer: ReturnType<typeof setInterval>;

  constructor(sample: () => number, ms = 20) {
    this.peak = sample();
    this.#timer = setInterval(() => {
      const v = sample();
      if (v > this.peak) this.peak = v;
    }, ms);
  }

  stop(): number {
    clearInterval(this.#timer);
    return this.peak;
  }
}
