/**
 * A session: one connected peer. It reads bytes, hands each read to the
 * WASM codec in one call, dispatches every decoded frame, and writes all
 * the answers one turn of the event loop produced in one `write`.
 *
 * @module
 */

import { NanoRpcError } from "../client/errors.ts";
import {
  H_CONSUMED,
  H_ERROR,
  H_ERROR_AT,
  H_NEED,
  HEADER,
  MALFORMED_REASONS,
  MAX_FRAMES,
  PATH_NONE,
  PATH_STRING,
  RQ_DATA_LEN,
  RQ_DATA_OFF,
  RQ_ID,
  RQ_PATH_HASH,
  RQ_PATH_KIND,
  RQ_PATH_LEN,
  RQ_PATH_OFF,
  RQ_TYPE,
  STRIDE,
} from "../wasm/codec.ts";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import type { ServerCore } from "./_core.ts";
import { FRAME_OVERHEAD, Outbox } from "./_outbox.ts";
import { ReadBuffer } from "./_read_buffer.ts";
import { Context, type ContextKind } from "./context.ts";
import { invoke, onAnswer, type Responder } from "./_invoke.ts";
import type { Group } from "./group.ts";
import { pathMatches, type Route } from "./router.ts";
import type { Subscription } from "./topic.ts";

/** Which kind of listener a session came in on. */
export type Transport = "tcp" | "tls" | "unix";

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
/** How long a closing session waits to flush what it owes. */
const CLOSE_FLUSH_MS = 2000;

let nextId = 1;

/**
 * A connected peer. Handlers reach it as `ctx.session`; the server lists
 * them (`server.sessions`) and finds them by uid (`server.sessionByUid`).
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc";
 *
 * const server = new Server();
 * server.handle("/login", (ctx) => {
 *   const name = new TextDecoder().decode(ctx.data);
 *   ctx.session.set("name", name);
 *   ctx.session.bind(name);
 * });
 * ```
 */
export class Session {
  /** Unique id of the session within this process. */
  readonly id: number = nextId++;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** The listener kind the peer came in on. */
  readonly transport: Transport;
  /** `performance.now()` when the last frame arrived. */
  lastFrameAt: number = performance.now();
  /** Updates dropped because the outgoing buffer was full. */
  droppedUpdates = 0;

  #core: ServerCore;
  #conn: Deno.Conn;
  #in: ReadBuffer;
  #ended = false;
  #reason = "";
  #draining = false;
  #closing?: Promise<void>;
  #abort?: AbortController;
  #attrs?: Map<string, unknown>;
  #subs?: Map<number, Subscription>;
  #groups?: Set<Group>;
  #uid?: string;
  #uidSub?: Disposable;
  #inflight = 0;
  #idle?: PromiseWithResolvers<void>;

  #out: Outbox;
  #responder: Responder;

  /** Wraps an accepted connection; the server does this. */
  constructor(core: ServerCore, conn: Deno.Conn, transport: Transport) {
    this.#core = core;
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.transport = transport;
    this.#in = new ReadBuffer(core.limits.maxMessageSize + 10);
    this.#responder = {
      core,
      sessionId: this.id,
      respond: (id, type, status, message, data) =>
        this.#respond(id, type, status, message, data),
      begin: () => this.#inflight++,
      end: () => {
        // A long handler is activity: the idle clock starts when it ends.
        this.lastFrameAt = performance.now();
        this.#settle();
      },
      lend: () => this.#in.lend(),
    };
    const limit = core.limits.outgoingBufferSize;
    this.#out = new Outbox(conn, core.codec, core.stats, limit / 4, (err) => {
      this.close(`write failed: ${errorMessage(err)}`);
    });
  }

  /** Fires when the session ends, with the reason as `signal.reason`. */
  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.#ended && !this.#abort.signal.aborted) {
      this.#abort.abort(this.#reason);
    }
    return this.#abort.signal;
  }

  /** Whether the session has ended or is ending. */
  get closed(): boolean {
    return this.#ended;
  }

  /** The uid bound with {@link bind}, if any. */
  get uid(): string | undefined {
    return this.#uid;
  }

  /** Number of live subscriptions. */
  get subscriptionCount(): number {
    return this.#subs?.size ?? 0;
  }

  /** The groups the session is a member of. */
  get groups(): ReadonlySet<Group> {
    return this.#groups ?? new Set();
  }

  /** Bytes queued for this peer and not yet written. */
  get bufferedAmount(): number {
    return this.#out.queued;
  }

  /** Stores an attribute, e.g. the player's name. */
  set<T>(key: string, value: T): void {
    (this.#attrs ??= new Map()).set(key, value);
  }

  /** Reads an attribute stored with {@link set}. */
  get<T>(key: string): T | undefined {
    return this.#attrs?.get(key) as T | undefined;
  }

  /** Whether the attribute `key` is set. */
  has(key: string): boolean {
    return this.#attrs?.has(key) ?? false;
  }

  /** Removes an attribute. */
  delete(key: string): boolean {
    return this.#attrs?.delete(key) ?? false;
  }

  /**
   * Binds the session to a user id, so that `server.sessionByUid(uid)` finds
   * it and `server.pushTo(uid, …)` reaches it. A uid bound to another
   * session moves to this one.
   */
  bind(uid: string): void {
    if (this.#ended) throw new Error("Cannot bind a closed session");
    this.unbind();
    const previous = this.#core.uids.get(uid);
    if (previous && previous !== this) previous.unbind();
    this.#uid = uid;
    this.#core.uids.set(uid, this);
    this.#uidSub = this.#core.broker.subscribe(
      `uid:${uid}`,
      (m) => this._pushOwned(m.path, m.data),
    );
  }

  /** Removes the uid binding, if any. */
  unbind(): void {
    if (this.#uid === undefined) return;
    if (this.#core.uids.get(this.#uid) === this) {
      this.#core.uids.delete(this.#uid);
    }
    this.#uidSub?.[Symbol.dispose]();
    this.#uid = this.#uidSub = undefined;
  }

  /**
   * Sends `data` as an UPDATE to each of this session's subscriptions to
   * the topic at `path` whose filter accepts it. `data` is copied.
   *
   * @returns How many updates were queued.
   */
  push(path: string, data: Uint8Array): number {
    return this._pushOwned(path, data.slice());
  }

  /** {@link push} for data nobody will change. Internal. */
  _pushOwned(path: string, data: Uint8Array): number {
    if (!this.#subs) return 0;
    let sent = 0;
    for (const sub of this.#subs.values()) {
      if (sub.topic.path === path && sub.topic.accepts(sub, data)) {
        if (this.sendUpdate(sub.id, data)) sent++;
      }
    }
    return sent;
  }

  /**
   * Queues an UPDATE for subscription `id`. Updates are best-effort: when
   * they would fill more than half the outgoing buffer (the other half is
   * kept for responses) the update is dropped and counted. `data` must not
   * change afterwards.
   *
   * @returns Whether it was queued.
   */
  sendUpdate(id: number, data: Uint8Array): boolean {
    if (this.#ended) return false;
    const size = data.length + FRAME_OVERHEAD;
    if (this.#out.queued + size > this.#core.limits.outgoingBufferSize / 2) {
      this.droppedUpdates++;
      this.#core.stats.droppedUpdates++;
      return false;
    }
    this.#out.push(id, ResponseType.UPDATE, Status.OK, undefined, data, size);
    return true;
  }

  /** Ends the session: flushes what it owes (briefly), then closes. */
  close(reason = "closed by the server"): Promise<void> {
    return this.#closing ??= this.#finish(reason);
  }

  /** Adds or removes group membership; the group calls this. */
  _membership(group: Group, member: boolean): void {
    if (member) (this.#groups ??= new Set()).add(group);
    else this.#groups?.delete(group);
  }

  /** Stops reading new requests; the server calls it at shutdown. */
  _drain(): void {
    this.#draining = true;
  }

  /** Reads and serves until the peer leaves; the server calls it once. */
  async serve(): Promise<void> {
    let reason = "peer closed the connection";
    try {
      while (!this.#ended && !this.#draining) {
        if (this.#out.queued > this.#core.limits.outgoingBufferSize / 2) {
          await this.#out.drained();
          if (this.#ended) break;
        }
        const n = await this.#conn.read(this.#in.space());
        if (n === null) break;
        this.#in.filled += n;
        this.#core.stats.bytesIn += n;
        if (this.#in.filled < this.#in.need) continue;
        await this.#process();
        this.#in.relax(n);
      }
    } catch (err) {
      if (!this.#ended) reason = `read failed: ${errorMessage(err)}`;
    }
    if (this.#draining) reason = "server is shutting down";
    await this.close(reason);
  }

  /** Whether a read or a handler of this session is being served. */
  get _busy(): boolean {
    return this.#inflight > 0;
  }

  /** Resolves when no handler of this session is running. */
  async settled(): Promise<void> {
    while (this.#inflight > 0) {
      this.#idle ??= Promise.withResolvers();
      await this.#idle.promise;
    }
  }

  /** Decodes and dispatches every complete frame in the read buffer. */
  async #process(): Promise<void> {
    this.#inflight++;
    this.#out.cork();
    try {
      let offset = 0;
      for (;;) {
        const input = this.#in.bytes.subarray(offset, this.#in.filled);
        const codec = this.#core.codec;
        const count = codec.decodeRequests(
          input,
          this.#core.limits.maxMessageSize,
        );
        let w = codec.words;
        const consumed = w[H_CONSUMED];
        const error = w[H_ERROR];
        const errorAt = w[H_ERROR_AT];
        const need = w[H_NEED];
        let base = HEADER;
        if (count > 0) this.lastFrameAt = performance.now();
        this.#core.stats.framesIn += count;
        for (let i = 0; i < count && !this.#ended; i++) {
          const done = this.#dispatch(w, base + i * STRIDE, offset);
          if (done === undefined) continue;
          if (w === codec.words) {
            // The table is shared by all sessions: keep the rest of ours.
            w = w.slice(base + (i + 1) * STRIDE, HEADER + count * STRIDE);
            base = -(i + 1) * STRIDE;
          }
          // Answers so far go out now, not after the slow handler.
          this.#out.uncork();
          await done;
          this.#out.cork();
        }
        if (error !== 0) {
          this.#malformed(error, offset + errorAt);
          return;
        }
        offset += consumed;
        this.#in.need = need;
        if (count < MAX_FRAMES || offset === this.#in.filled || this.#ended) {
          break;
        }
      }
      // Answers may still view the read buffer: encode them before the
      // buffer is compacted and reused.
      this.#out.uncork();
      this.#in.consume(offset);
    } finally {
      this.#out.uncork();
      this.#settle();
    }
  }

  #settle(): void {
    if (--this.#inflight === 0 && this.#idle) {
      this.#idle.resolve();
      this.#idle = undefined;
    }
  }

  /** Serves one decoded frame; returns a promise only if it must be awaited. */
  #dispatch(
    w: Int32Array,
    e: number,
    offset: number,
  ): Promise<void> | undefined {
    const id = w[e + RQ_ID];
    const type = w[e + RQ_TYPE];
    if (type === RequestType.PING) {
      this.#respond(id, ResponseType.PONG, Status.OK, undefined, EMPTY);
      return;
    }
    if (type !== RequestType.REQUEST && type !== RequestType.SUBSCRIBE) {
      this.#respond(
        id,
        ResponseType.RESPONSE,
        Status.INTERNAL_ERROR,
        `Unsupported request type ${type}: send PING, REQUEST or SUBSCRIBE`,
        EMPTY,
      );
      return;
    }
    const kind = w[e + RQ_PATH_KIND];
    const hash = w[e + RQ_PATH_HASH] >>> 0;
    let route = kind === PATH_NONE ? undefined : this.#core.router.lookup(hash);
    const pathOff = offset + w[e + RQ_PATH_OFF];
    const pathLen = w[e + RQ_PATH_LEN];
    if (
      route && kind === PATH_STRING &&
      !pathMatches(route, this.#in.bytes, pathOff, pathLen)
    ) {
      route = undefined;
    }
    const dataOff = offset + w[e + RQ_DATA_OFF];
    const data = this.#in.bytes.subarray(dataOff, dataOff + w[e + RQ_DATA_LEN]);
    if (type === RequestType.REQUEST) {
      const sub = this.#subs?.get(id);
      if (
        sub && data.length === 0 && route !== undefined &&
        sub.topic.route === route
      ) {
        this.#unsubscribe(sub);
        this.#respond(id, ResponseType.RESPONSE, Status.OK, undefined, EMPTY);
        return;
      }
    }
    const target = type === RequestType.REQUEST ? route?.handler : route?.topic;
    if (!route || !target) {
      const what = type === RequestType.REQUEST ? "handler" : "topic";
      const message = kind === PATH_NONE
        ? `No ${what}: the request has no path or path_hash`
        : kind === PATH_STRING
        ? `No ${what} for path ${
          decoder.decode(
            this.#in.bytes.subarray(pathOff, pathOff + Math.min(pathLen, 200)),
          )
        }${pathLen > 200 ? "…" : ""}`
        : `No ${what} for path hash 0x${hash.toString(16).padStart(8, "0")}`;
      this.#respond(
        id,
        ResponseType.RESPONSE,
        Status.NOT_FOUND,
        message,
        EMPTY,
      );
      return;
    }
    return type === RequestType.REQUEST
      ? this.#call(route, id, data, "request")
      : this.#call(route, id, data, "subscribe");
  }

  #call(
    route: Route,
    id: number,
    data: Uint8Array,
    kind: ContextKind,
  ): Promise<void> | undefined {
    const concurrent = kind === "request" && route.options.concurrent === true;
    const ctx = new Context(
      this,
      route,
      id,
      concurrent ? data.slice() : data,
      kind,
    );
    const last = kind === "request" ? route.handler! : this.#subscribeLast;
    return invoke(this.#responder, ctx, last, concurrent);
  }

  /**
   * The last step of a SUBSCRIBE: checks the limit and decodes the filter,
   * but attaches the subscription only when the OK ack is queued, so a
   * refused, timed-out or abandoned SUBSCRIBE leaves nothing behind and no
   * UPDATE can overtake the ack.
   */
  #subscribeLast = (ctx: Context): undefined => {
    const topic = ctx.route.topic!;
    this.#checkLimit(ctx.requestId);
    let sub: Subscription;
    try {
      sub = topic._prepare(this, ctx.requestId, ctx.data);
    } catch (err) {
      throw new NanoRpcError(
        Status.INTERNAL_ERROR,
        `Invalid subscription filter for ${topic.path}: ${errorMessage(err)}`,
      );
    }
    onAnswer.set(ctx, () => {
      if (this.#ended) return;
      this.#checkLimit(sub.id);
      const old = this.#subs?.get(sub.id);
      if (old) this.#unsubscribe(old);
      (this.#subs ??= new Map()).set(sub.id, sub);
      topic._attach(sub);
      this.#core.stats.subscriptions++;
    });
  };

  #checkLimit(id: number): void {
    const limit = this.#core.limits.maxSubscriptionsPerSession;
    const subs = this.#subs;
    if (subs && !subs.has(id) && subs.size >= limit) {
      throw new NanoRpcError(
        Status.NOT_AUTHORIZED,
        `Subscription limit of ${limit} per session reached: unsubscribe first`,
      );
    }
  }

  #unsubscribe(sub: Subscription): void {
    sub.topic._detach(sub);
    this.#subs!.delete(sub.id);
    this.#core.stats.subscriptions--;
  }

  /** Queues a response; one that does not fit the buffer ends the session. */
  #respond(
    id: number,
    type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
  ): void {
    if (this.#ended) return;
    const size = data.length + FRAME_OVERHEAD +
      (message ? message.length * 3 : 0);
    if (this.#out.queued + size > this.#core.limits.outgoingBufferSize) {
      this.#core.stats.overflowCloses++;
      this.close(
        `outgoing buffer of ${this.#core.limits.outgoingBufferSize} bytes is full: the peer does not read its responses`,
      );
      return;
    }
    this.#out.push(id, type, status, message, data, size);
  }

  #malformed(code: number, at: number): void {
    const reason = `malformed frame at byte ${at}: ${
      MALFORMED_REASONS[code] ?? `reason ${code}`
    }`;
    this.#core.stats.malformedCloses++;
    this.#core.logger.warn(
      `session ${this.id} (${formatAddr(this.remoteAddr)}): closing, ${reason}`,
    );
    this.close(reason);
  }

  async #finish(reason: string): Promise<void> {
    this.#ended = true;
    this.#reason = reason;
    this.#abort?.abort(reason);
    if (this.#subs) {
      for (const sub of this.#subs.values()) sub.topic._detach(sub);
      this.#core.stats.subscriptions -= this.#subs.size;
      this.#subs.clear();
    }
    if (this.#groups) {
      for (const group of [...this.#groups]) group.remove(this);
    }
    try {
      this.unbind();
    } catch (err) {
      this.#core.logger.error(
        `session ${this.id}: releasing uid ${this.#uid} failed: ${
          errorMessage(err)
        }`,
      );
      this.#uid = this.#uidSub = undefined;
    }
    await this.#out.close(CLOSE_FLUSH_MS);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or by a failed write.
    }
    this.#core.sessionClosed(this, reason);
  }
}

/** The message of an error, or the value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `host:port` or the socket path of an address. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    // A connecting UNIX socket is usually unnamed.
    return addr.path ? `unix:${addr.path}` : "unix peer";
  }
  if ("hostname" in addr) return `${addr.hostname}:${addr.port}`;
  return addr.transport;
}
