// What the stress checks share: `deno task server` as a child process
// (with its resident memory and open descriptors read from /proc — Linux
// only), and a well-behaved client that checks every answer it gets.
// Internal to bench/.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { sizeDelimitedPeek } from "@bufbuild/protobuf/wire";
import {
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  ChatMessageSchema,
} from "../proto/gen/chat_pb.ts";
import { fnv1a, RequestType, ResponseType, Status } from "../wasm/wire.ts";

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

// --- Encoding requests by hand (the server's side is what is under test).

/** Appends `v` (an int32, or a uint32 up to 2^35) as a protobuf varint. */
export function pushVarint(out: number[], v: number): void {
  let x = v < 0 ? BigInt.asUintN(64, BigInt(v)) : BigInt(v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

/** Fields of a request to encode; `path` may be a string or a hash. */
export interface RequestFields {
  id: number;
  type: number;
  path?: string | number;
  data?: Uint8Array;
}

const encoder = new TextEncoder();

/** Encodes a NanoRPCRequest body (no length prefix). */
export function requestBody(r: RequestFields): number[] {
  const out: number[] = [0x08];
  pushVarint(out, r.id);
  out.push(0x10);
  pushVarint(out, r.type);
  if (typeof r.path === "number") {
    out.push(0x18);
    pushVarint(out, r.path >>> 0);
  } else if (typeof r.path === "string") {
    const bytes = encoder.encode(r.path);
    out.push(0x22);
    pushVarint(out, bytes.length);
    for (const b of bytes) out.push(b);
  }
  if (r.data && r.data.length > 0) {
    out.push(0x52);
    pushVarint(out, r.data.length);
    for (const b of r.data) out.push(b);
  }
  return out;
}

/** Prefixes `body` with its length. */
export function delimit(body: ArrayLike<number>): Uint8Array {
  const head: number[] = [];
  pushVarint(head, body.length);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body as ArrayLike<number>, head.length);
  return out;
}

/** One request frame. */
export function requestFrame(r: RequestFields): Uint8Array {
  return delimit(requestBody(r));
}

// --- Reading responses.

/** Splits a connection's bytes into responses (decoded by protobuf-es). */
export class FrameReader {
  readonly conn: Deno.Conn;
  #buf = new Uint8Array(256 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** The next response; undefined after `ms` or when the server left. */
  async next(ms = 10_000): Promise<NanoRPCResponse | undefined> {
    const timer = setTimeout(() => this.close(), ms);
    try {
      for (;;) {
        const peek = sizeDelimitedPeek(
          this.#buf.subarray(this.#start, this.#end),
        );
        if (!peek.eof && this.#start + peek.offset + peek.size <= this.#end) {
          const from = this.#start + peek.offset;
          this.#start = from + peek.size;
          return fromBinary(
            NanoRPCResponseSchema,
            this.#buf.subarray(from, this.#start),
          );
        }
        this.#makeRoom(peek.eof ? 0 : peek.offset + peek.size);
        const n = await this.conn.read(this.#buf.subarray(this.#end));
        if (n === null) return undefined;
        this.#end += n;
      }
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Moves the unread bytes to the front; grows to fit a frame of `need`. */
  #makeRoom(need: number): void {
    const unread = this.#end - this.#start;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = unread;
    }
    if (need > this.#buf.length || this.#end === this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
      bigger.set(this.#buf.subarray(0, this.#end));
      this.#buf = bigger;
    }
  }
}

// --- The well-behaved client.

/** A client that checks every answer; it never sends anything hostile. */
export class GoodClient {
  calls = 0;
  wrong = 0;
  updates = 0;
  maxLatencyMs = 0;
  readonly problems: string[] = [];
  #conn: Deno.TcpConn;
  #reader: FrameReader;
  #nextId = 1;
  #name: string;

  private constructor(conn: Deno.TcpConn, name: string) {
    this.#conn = conn;
    this.#reader = new FrameReader(conn);
    this.#name = name;
  }

  /** Connects, joins the room and subscribes to its own messages. */
  static async connect(
    addr: { hostname: string; port: number },
  ): Promise<GoodClient> {
    const conn = await Deno.connect(addr);
    const name = `good-${crypto.randomUUID()}`;
    const client = new GoodClient(conn, name);
    await client.#expectOk(
      { id: 0, type: RequestType.REQUEST, path: "/room/join" },
      toBinary(ChatJoinSchema, create(ChatJoinSchema, { name })),
    );
    await client.#expectOk(
      { id: 0, type: RequestType.SUBSCRIBE, path: "/room/messages" },
      toBinary(ChatFilterSchema, create(ChatFilterSchema, { from: name })),
    );
    return client;
  }

  /** One ping; true when answered correctly. */
  async ping(): Promise<boolean> {
    const id = this.#id();
    const res = await this.#call(requestFrame({ id, type: RequestType.PING }));
    return this.#check(
      res !== undefined && res.requestId === id &&
        res.responseType === ResponseType.PONG &&
        res.responseStatus === Status.OK,
      `ping ${id}`,
      res,
    );
  }

  /** One echo of random bytes, by path or by hash; true when correct. */
  async echo(size: number): Promise<boolean> {
    const id = this.#id();
    const data = crypto.getRandomValues(new Uint8Array(size));
    const path = id % 2 === 0 ? "/echo" : fnv1a("/echo");
    const res = await this.#call(
      requestFrame({ id, type: RequestType.REQUEST, path, data }),
    );
    return this.#check(
      res !== undefined && res.requestId === id &&
        res.responseType === ResponseType.RESPONSE &&
        res.responseStatus === Status.OK && equal(res.data, data),
      `echo ${id} (${size} bytes)`,
      res,
    );
  }

  /** Sends a chat message and expects its OK and its own update. */
  async chat(): Promise<boolean> {
    const id = this.#id();
    const text = `message ${id}`;
    const data = toBinary(
      ChatMessageSchema,
      create(ChatMessageSchema, { text }),
    );
    const first = await this.#call(
      requestFrame({ id, type: RequestType.REQUEST, path: "/room/send", data }),
    );
    const second = first && await this.#read();
    const answers = [first, second].filter((r) => r !== undefined);
    const ok = answers.find((r) => r.responseType === ResponseType.RESPONSE);
    const update = answers.find((r) => r.responseType === ResponseType.UPDATE);
    let good = ok?.requestId === id && ok.responseStatus === Status.OK &&
      update !== undefined;
    if (good && update) {
      const msg = fromBinary(ChatMessageSchema, update.data);
      good = msg.from === this.#name && msg.text === text;
      this.updates++;
    }
    return this.#check(good, `chat ${id}`, first);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #id(): number {
    this.#nextId = (this.#nextId + 1) & 0x7fffffff;
    return this.#nextId;
  }

  async #expectOk(r: RequestFields, data: Uint8Array): Promise<void> {
    const res = await this.#call(requestFrame({ ...r, data }));
    if (res?.responseStatus !== Status.OK) {
      throw new Error(
        `well-behaved client setup failed: ${res?.responseMessage}`,
      );
    }
  }

  #check(ok: boolean, what: string, res?: NanoRPCResponse): boolean {
    this.calls++;
    if (!ok) {
      this.wrong++;
      if (this.problems.length < 10) {
        this.problems.push(
          `${what}: ${
            res
              ? `got id ${res.requestId} type ${res.responseType} status ${res.responseStatus} ${res.responseMessage}`
              : "no answer"
          }`,
        );
      }
    }
    return ok;
  }

  async #call(frame: Uint8Array): Promise<NanoRPCResponse | undefined> {
    const started = performance.now();
    try {
      await this.#conn.write(frame);
      return await this.#read();
    } catch {
      return undefined;
    } finally {
      const took = performance.now() - started;
      if (took > this.maxLatencyMs) this.maxLatencyMs = took;
    }
  }

  #read(): Promise<NanoRPCResponse | undefined> {
    return this.#reader.next();
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
