// The server's side of a session: the application-facing state (attributes,
// uid, groups, subscriptions), the bounded outgoing buffer, and the orderly
// end. Reading and dispatching live in _connection.ts and _dispatch.ts.

import type { ByteStream, PeerAddress } from "../transport/byte_stream.ts";
import { formatPeer } from "../transport/byte_stream.ts";
import { ResponseType, Status } from "../wasm/wire.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import { EarlyUpdates } from "./_early_updates.ts";
import type { Group } from "./group.ts";
import type { GroupImpl } from "./_group.ts";
import { FRAME_OVERHEAD, type FrameSink, Outbox } from "./_outbox.ts";
import type { SessionLimiter } from "./_rate_limit.ts";
import { ReadBuffer } from "./_read_buffer.ts";
import type { Linger } from "./_linger_buffer.ts";
import type { Session } from "./session.ts";
import { SubscriptionRegistry } from "./_subscriptions.ts";

/** How long a closing session waits to flush what it owes. */
const CLOSE_FLUSH_MS = 2000;

let nextId = 1;
const EMPTY_ATTRS: ReadonlyMap<string, unknown> = new Map();

export class ServerSession implements Session {
  readonly id: number = nextId++;
  // The connection's parts change when the session resumes on another one.
  remoteAddr: PeerAddress;
  transport: string;
  readonly core: ServerCore;
  stream: ByteStream;
  input: ReadBuffer;
  out: Outbox;
  readonly subscriptions: SubscriptionRegistry;
  /** The session's rate limits, if the server has any. */
  limiter: SessionLimiter | undefined;
  /** The token that resumes this session, once it asked for one. */
  resumeToken: string | undefined;
  /** Set while the connection is gone and the session waits for a resume. */
  linger: Linger | undefined;
  /** The session that took this one's connection over (a resume). */
  successor: ServerSession | undefined;
  /** Where frames go: the outbox, or the resume buffer while lingering. */
  #sink: FrameSink;
  lastFrameAt: number = performance.now();
  droppedUpdates = 0;
  /** Set at shutdown: requests already read are answered, no more read. */
  draining = false;

  #ended = false;
  #reason = "";
  #closing?: Promise<void>;
  #abort?: AbortController;
  #attrs?: Map<string, unknown>;
  #groups?: Set<GroupImpl>;
  #uid?: string;
  #uidChannel?: Disposable;
  #inflight = 0;
  #idle?: PromiseWithResolvers<void>;
  /** Updates for SUBSCRIBEs not acknowledged yet; only while there are. */
  #early?: EarlyUpdates;

  constructor(core: ServerCore, stream: ByteStream) {
    this.core = core;
    this.stream = stream;
    this.remoteAddr = stream.remoteAddr;
    this.transport = stream.transport;
    this.input = new ReadBuffer(core.limits.maxMessageSize + 10);
    this.subscriptions = new SubscriptionRegistry(
      core.stats,
      core.limits.maxSubscriptionsPerSession,
    );
    const limit = core.limits.outgoingBufferSize;
    this.out = new Outbox(stream, core.codec, core.stats, limit / 4, (err) => {
      (this.successor ?? this).lost(
        `write failed: ${errorMessage(err)}`,
        stream,
      );
    });
    this.#sink = this.out;
    this.limiter = core.ops.limiter();
  }

  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.#ended && !this.#abort.signal.aborted) {
      this.#abort.abort(this.#reason);
    }
    return this.#abort.signal;
  }

  get closed(): boolean {
    return this.#ended;
  }

  get uid(): string | undefined {
    return this.#uid;
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  get groups(): ReadonlySet<Group> {
    return this.#groups ?? new Set();
  }

  get bufferedAmount(): number {
    // Not `out`: a lingering session's old one may count a failed write.
    return this.#sink.queued;
  }

  /** Whether a read or a handler of this session is being served. */
  get busy(): boolean {
    return this.#inflight > 0;
  }

  set<T>(key: string, value: T): void {
    (this.#attrs ??= new Map()).set(key, value);
  }

  get<T>(key: string): T | undefined {
    return this.#attrs?.get(key) as T | undefined;
  }

  /** Every attribute, for a forwarded call's snapshot. */
  attributes(): ReadonlyMap<string, unknown> {
    return this.#attrs ?? EMPTY_ATTRS;
  }

  has(key: string): boolean {
    return this.#attrs?.has(key) ?? false;
  }

  delete(key: string): boolean {
    return this.#attrs?.delete(key) ?? false;
  }

  bind(uid: string): void {
    if (this.#ended) throw new Error("Cannot bind a closed session");
    this.unbind();
    const previous = this.core.uids.get(uid);
    if (previous && previous !== this) previous.unbind();
    this.#uid = uid;
    this.core.uids.set(uid, this);
    this.#uidChannel = this.core.broker.subscribe(`uid:${uid}`, (m) => {
      if (m.kick !== undefined) this.close(m.kick);
      else this.pushOwned(m.path, m.data);
    });
  }

  /** `keepUid`: a session ending still reads its uid (nano's OnClosed). */
  unbind(keepUid = false): void {
    const uid = this.#uid;
    if (uid === undefined) return;
    if (this.core.uids.get(uid) === this) this.core.uids.delete(uid);
    const channel = this.#uidChannel;
    this.#uidChannel = undefined;
    if (!keepUid) this.#uid = undefined;
    channel?.[Symbol.dispose]();
  }

  push(path: string, data: Uint8Array): number {
    return this.pushOwned(path, data.slice());
  }

  /**
   * {@link push} for data nobody will change. Subscriptions held by other
   * nodes get it through them (not counted).
   */
  pushOwned(path: string, data: Uint8Array): number {
    this.core.forward?.home.pushed(this, path, data);
    return this.subscriptions.push(path, data);
  }

  /**
   * The public `sendUpdate`: only for a live subscription of this session
   * (here, or held by another node); while the SUBSCRIBE with `id` is being
   * handled the update waits and follows its OK ack. Any other id: false.
   */
  sendUpdate(id: number, data: Uint8Array): boolean {
    if (this.#ended) return false;
    if (
      this.subscriptions.get(id) !== undefined ||
      this.core.forward?.home.holds(this, id)
    ) return this.queueUpdate(id, data);
    const early = this.#early;
    if (early === undefined || !early.has(id)) return false;
    if (early.hold(id, data)) return true;
    return this.#dropUpdate();
  }

  /** A SUBSCRIBE with `id` is being handled: its updates wait for the ack. */
  awaitAck(id: number): void {
    const limit = this.core.limits.outgoingBufferSize / 2;
    (this.#early ??= new EarlyUpdates(limit)).open(id);
  }

  /** SUBSCRIBE `id` answered: what waited goes out if `ok`, else drops. */
  acked(id: number, ok: boolean): void {
    const early = this.#early;
    const held = early?.take(id);
    if (early !== undefined && early.size === 0) this.#early = undefined;
    if (held === undefined) return;
    for (const data of held) {
      if (ok) this.queueUpdate(id, data);
      else this.#dropUpdate();
    }
  }

  /** Bytes of updates the outgoing buffer takes before it drops them. */
  updateRoom(): number {
    return this.core.limits.outgoingBufferSize / 2 - this.#sink.queued;
  }

  /**
   * Queues an UPDATE for `id` unchecked (topics, resumes and forwarding,
   * which know the subscription is live). `replay`: an update buffered
   * while lingering, already counted.
   */
  queueUpdate(id: number, data: Uint8Array, replay = false): boolean {
    if (this.#ended) return false;
    const size = data.length + FRAME_OVERHEAD;
    const sink = this.#sink;
    if (sink.queued + size > this.core.limits.outgoingBufferSize / 2) {
      return this.#dropUpdate();
    }
    if (!replay) this.core.stats.updatesSent++;
    sink.push(id, ResponseType.UPDATE, Status.OK, undefined, data, size);
    return true;
  }

  /**
   * {@link queueUpdate} with the UPDATE already encoded as `frame` (for
   * `id` and `data`), which the session writes as it is: a publish encodes
   * once for every subscription with the same id.
   */
  sendEncoded(id: number, data: Uint8Array, frame: Uint8Array): boolean {
    if (this.#sink !== this.out) return this.queueUpdate(id, data);
    if (this.#ended) return false;
    const size = data.length + FRAME_OVERHEAD;
    if (this.out.queued + size > this.core.limits.outgoingBufferSize / 2) {
      return this.#dropUpdate();
    }
    this.core.stats.updatesSent++;
    this.out.pushFrame(frame, size);
    return true;
  }

  /** Counts an update dropped; returns false, what the sender says. */
  #dropUpdate(): false {
    this.droppedUpdates++;
    this.core.stats.droppedUpdates++;
    return false;
  }

  /** Queues a response; one that does not fit the buffer ends the session. */
  respond(
    id: number,
    type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
  ): void {
    if (this.#ended) return;
    const size = data.length + FRAME_OVERHEAD +
      (message ? message.length * 3 : 0);
    const limit = this.core.limits.outgoingBufferSize;
    const sink = this.#sink;
    if (sink.queued + size > limit) {
      this.core.stats.overflowCloses++;
      this.close(
        `outgoing buffer of ${limit} bytes is full: the peer does not read its responses`,
      );
      return;
    }
    sink.push(id, type, status, message, data, size);
  }

  /** Adds or removes group membership; the group calls this. */
  membership(group: GroupImpl, member: boolean): void {
    if (member) (this.#groups ??= new Set()).add(group);
    else this.#groups?.delete(group);
  }

  /** A read or an async handler started being served. */
  begin(): void {
    this.#inflight++;
  }

  /**
   * A read or an async handler was served. `waited`: it took a turn of
   * the event loop or more (a read served at once has just set
   * `lastFrameAt`, so its end need not read the clock again).
   */
  end(waited = true): void {
    // A long handler is activity: the idle clock starts when it ends.
    if (waited) this.lastFrameAt = performance.now();
    if (--this.#inflight === 0 && this.#idle) {
      this.#idle.resolve();
      this.#idle = undefined;
    }
  }

  /** A handler outlived its time limit and may still read its `ctx.data`. */
  lend(): void {
    this.input.lend();
  }

  /** Resolves when no handler of this session is running. */
  async settled(): Promise<void> {
    while (this.#inflight > 0) {
      this.#idle ??= Promise.withResolvers();
      await this.#idle.promise;
    }
  }

  close(reason = "closed by the server"): Promise<void> {
    return this.#closing ??= this.#finish(reason);
  }

  /**
   * The connection over `stream` was lost (not closed on purpose): a
   * session with a resume token lingers, any other closes. Nothing happens
   * when the session has moved to another connection or is ending.
   */
  lost(reason: string, stream: ByteStream): Promise<void> {
    if (stream !== this.stream) stream.close(reason);
    else if (this.#closing) return this.#closing;
    else if (!this.linger && !this.core.ops.resume?.linger(this, reason)) {
      return this.close(reason);
    }
    return Promise.resolve();
  }

  /** Starts lingering: frames go to `sink`, the dead stream is closed. */
  detach(sink: FrameSink, reason: string): void {
    this.#sink = sink;
    this.stream.close(reason);
  }

  /** Takes over `from`'s connection (a resume); lends the old read buffer. */
  adopt(from: ServerSession): void {
    this.input.lend();
    this.stream = from.stream;
    this.input = from.input;
    this.#sink = this.out = from.out;
    this.remoteAddr = from.remoteAddr;
    this.transport = from.transport;
    this.lastFrameAt = from.lastFrameAt;
    from.successor = this;
  }

  /**
   * Ends a session whose connection another one took over: like
   * {@link close}, but its stream and outbox now serve the other session.
   */
  handOver(reason: string): void {
    if (this.#closing) return;
    this.#closing = Promise.resolve();
    try {
      this.#release(reason);
      this.core.sessionClosed(this, reason);
    } catch (err) {
      this.core.logger.error(`${this}: handing over failed`, err);
    }
  }

  /** `session 12 (tcp://127.0.0.1:5000)`, for log lines. */
  toString(): string {
    return `session ${this.id} (${formatPeer(this.remoteAddr)})`;
  }

  /** Never rejects: close() and lost() are called without waiting. */
  async #finish(reason: string): Promise<void> {
    try {
      this.#release(reason);
      await this.out.close(CLOSE_FLUSH_MS);
      this.stream.close(reason);
      this.core.sessionClosed(this, reason);
    } catch (err) {
      this.core.logger.error(`${this}: closing failed`, err);
    }
  }

  /** Lets go of everything the session holds in the server. */
  #release(reason: string): void {
    this.#ended = true;
    this.#reason = reason;
    this.#abort?.abort(reason);
    this.subscriptions.clear();
    for (const group of [...(this.#groups ?? [])]) group.remove(this);
    try {
      this.unbind(true);
    } catch (err) {
      this.core.logger.error(`${this}: releasing its uid failed`, err);
    }
    this.core.ops.resume?.ended(this);
  }
}
