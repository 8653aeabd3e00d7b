// The session a remote handler sees: a proxy, built from the snapshot that
// came with a forwarded call, for a session connected to another node (its
// home). Reads answer from the snapshot and from the proxy's own changes;
// every change is also recorded as a SessionOp and reaches the home node,
// with the answer while the call runs, on its own after.

import type { PeerAddress } from "../transport/byte_stream.ts";
import type { SessionOp, SessionSnapshot } from "./forward.ts";
import type { Group } from "./group.ts";
import type { Session } from "./session.ts";

/** Where a proxy's changes and updates go. */
export interface OpSink {
  /** A change to the session. */
  op(op: SessionOp): void;
  /** `sendUpdate` on the proxy. */
  update(id: number, data: Uint8Array): boolean;
  /**
   * Set while the changes travel in the answer of the call being served,
   * to a home node that reads `broadcast` ops: a group the session joins or
   * leaves then sends it its broadcasts here, in order with that change.
   */
  readonly answer?: boolean;
}

const NO_GROUPS: ReadonlySet<Group> = new Set();

/** Most broadcasts one forwarded call's answer carries (see `carry`). */
export const MAX_CARRIED = 64;
/** Most bytes of broadcasts one forwarded call's answer carries. */
export const MAX_CARRIED_BYTES = 256 * 1024;

export class RemoteSession implements Session {
  readonly id: number;
  /** Id of the node the session is connected to. */
  readonly home: string;
  readonly remoteAddr: PeerAddress;
  readonly transport: string;
  readonly lastFrameAt: number = performance.now();
  readonly droppedUpdates = 0;
  readonly subscriptionCount = 0;
  readonly bufferedAmount = 0;
  readonly signal: AbortSignal;
  #attrs: Map<string, unknown>;
  #uid: string | undefined;
  #sink: OpSink;
  #closed = false;
  #joined?: Set<string>;
  #answered?: (() => void)[];
  #carried = 0;
  #carriedBytes = 0;

  constructor(snapshot: SessionSnapshot, sink: OpSink, signal: AbortSignal) {
    this.id = snapshot.id;
    this.home = snapshot.node;
    this.remoteAddr = snapshot.remoteAddr;
    this.transport = snapshot.transport;
    this.#uid = snapshot.uid;
    this.#attrs = new Map(snapshot.attributes);
    this.#sink = sink;
    this.signal = signal;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get uid(): string | undefined {
    return this.#uid;
  }

  /** Groups are kept on the home node; a proxy lists none. */
  get groups(): ReadonlySet<Group> {
    return NO_GROUPS;
  }

  /** Whether its changes travel in the answer, see {@link OpSink.answer}. */
  get inAnswer(): boolean {
    return this.#sink.answer === true;
  }

  /** Runs `done` once the call is answered (the proxy is redirected). */
  afterAnswer(done: () => void): void {
    (this.#answered ??= []).push(done);
  }

  /** Replaces where changes go (the call was answered). */
  redirect(sink: OpSink): void {
    this.#sink = sink;
    const answered = this.#answered;
    this.#answered = undefined;
    for (const done of answered ?? []) done();
  }

  set<T>(key: string, value: T): void {
    this.#attrs.set(key, value);
    this.#sink.op({ op: "set", key, value });
  }

  get<T>(key: string): T | undefined {
    return this.#attrs.get(key) as T | undefined;
  }

  has(key: string): boolean {
    return this.#attrs.has(key);
  }

  delete(key: string): boolean {
    const had = this.#attrs.delete(key);
    this.#sink.op({ op: "delete", key });
    return had;
  }

  bind(uid: string): void {
    if (this.#closed) throw new Error("Cannot bind a closed session");
    this.#uid = uid;
    this.#sink.op({ op: "bind", uid });
  }

  unbind(): void {
    if (this.#uid === undefined) return;
    this.#uid = undefined;
    this.#sink.op({ op: "unbind" });
  }

  /**
   * Pushes through the home node, whose subscriptions decide; the count is
   * not known here, so it is 0.
   */
  push(path: string, data: Uint8Array): number {
    this.#sink.op({ op: "push", path, data: data.slice() });
    return 0;
  }

  sendUpdate(id: number, data: Uint8Array): boolean {
    if (this.#closed) return false;
    return this.#sink.update(id, data);
  }

  /** The group called `name` adds this session on its home node. */
  join(group: string): void {
    if (this.#closed) throw new Error(`Session ${this.id} is closed`);
    (this.#joined ??= new Set()).add(group);
    this.#sink.op({ op: "join", group });
  }

  /** The group called `name` removes this session on its home node. */
  leave(group: string): boolean {
    const was = this.#joined?.delete(group) ?? false;
    this.#sink.op({ op: "leave", group });
    return was;
  }

  /**
   * A broadcast or multicast of `group` for the session, after the changes
   * made so far: its home node pushes it if the session is a member then.
   * Returns false, carrying nothing, once the answer holds
   * {@link MAX_CARRIED} of them or {@link MAX_CARRIED_BYTES}.
   */
  carry(group: string, path: string, data: Uint8Array): boolean {
    if (
      this.#carried >= MAX_CARRIED ||
      this.#carriedBytes + data.length > MAX_CARRIED_BYTES
    ) {
      return false;
    }
    this.#carried++;
    this.#carriedBytes += data.length;
    this.#sink.op({ op: "broadcast", group, path, data });
    return true;
  }

  /** Whether this proxy added the session to `group`. */
  joined(group: string): boolean {
    return this.#joined?.has(group) ?? false;
  }

  close(reason = "closed by a remote handler"): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#sink.op({ op: "close", reason });
    }
    return Promise.resolve();
  }

  /** `session 12@node (tcp://127.0.0.1:5000)`, for log lines. */
  toString(): string {
    return `session ${this.id}@${this.home.slice(0, 8)}`;
  }
}
