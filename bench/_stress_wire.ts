// The stress checks' side of the wire: requests encoded by hand (the
// server's side is what is under test), responses split and decoded with
// protobuf-es, and a well-behaved client that checks every answer it gets.
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
