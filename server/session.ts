/**
 * A session: one connected peer, as handlers and the application see it.
 *
 * @module
 */

import type { PeerAddress } from "../transport/byte_stream.ts";
import type { Group } from "./group.ts";

/**
 * Which transport a session came in on: `"tcp"`, `"tls"`, `"unix"`,
 * `"ws"`, `"wss"`, `"serial"`, `"stream"`, or a custom adapter's name.
 */
export type Transport = string;

/**
 * A connected peer. Handlers reach it as `ctx.session`; the server lists
 * them (`server.sessions`) and finds them by uid (`server.sessionByUid`).
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.handle("/login", (ctx) => {
 *   const name = new TextDecoder().decode(ctx.data);
 *   ctx.session.set("name", name);
 *   ctx.session.bind(name);
 * });
 * ```
 */
export interface Session {
  /** Unique id of the session within this process. */
  readonly id: number;
  /** The peer's address. */
  readonly remoteAddr: PeerAddress;
  /** The transport the peer came in on. */
  readonly transport: Transport;
  /**
   * `performance.now()` when the last frame arrived: when the turn of the
   * event loop that served its read began (the clock is read once a turn).
   */
  readonly lastFrameAt: number;
  /** Updates dropped because the outgoing buffer was full. */
  readonly droppedUpdates: number;
  /** Fires when the session ends, with the reason as `signal.reason`. */
  readonly signal: AbortSignal;
  /** Whether the session has ended or is ending. */
  readonly closed: boolean;
  /**
   * The uid bound with {@link Session.bind}, if any. A closed session still
   * reads the uid it had (for `sessionclose`), but no longer has it bound.
   */
  readonly uid: string | undefined;
  /** Number of live subscriptions. */
  readonly subscriptionCount: number;
  /** The groups the session is a member of. */
  readonly groups: ReadonlySet<Group>;
  /** Bytes queued for this peer and not yet written. */
  readonly bufferedAmount: number;
  /** Stores an attribute, e.g. the player's name. */
  set<T>(key: string, value: T): void;
  /** Reads an attribute stored with {@link Session.set}. */
  get<T>(key: string): T | undefined;
  /** Whether the attribute `key` is set. */
  has(key: string): boolean;
  /** Removes an attribute; returns whether it was set. */
  delete(key: string): boolean;
  /**
   * Binds the session to a user id, so that `server.sessionByUid(uid)` finds
   * it and `server.pushTo(uid, ...)` and `server.kick(uid)` reach it. A uid
   * bound to another session moves to this one.
   *
   * @throws {Error} When the session is closed.
   */
  bind(uid: string): void;
  /** Removes the uid binding, if any. */
  unbind(): void;
  /**
   * Sends `data` as an UPDATE to each of this session's subscriptions to
   * the topic at `path` whose filter accepts it. `data` is copied.
   *
   * @returns How many updates were queued.
   */
  push(path: string, data: Uint8Array): number;
  /**
   * Queues an UPDATE for subscription `id` of this session. Updates are
   * best-effort: when they would fill more than half the outgoing buffer
   * (the other half is kept for responses) the update is dropped and
   * counted. `data` must not change afterwards.
   *
   * `id` must be a live subscription, so no UPDATE overtakes its SUBSCRIBE
   * ack or follows its unsubscribe ack:
   * - while the SUBSCRIBE with `id` is being handled (middleware sending a
   *   snapshot before or after `next()`), the update waits and goes out
   *   right after the OK ack; if the SUBSCRIBE is refused or fails it is
   *   dropped and counted;
   * - for an id with no subscription (never made, refused, unsubscribed)
   *   nothing is sent and false is returned.
   *
   * @returns Whether it was queued (or is waiting for its ack).
   */
  sendUpdate(id: number, data: Uint8Array): boolean;
  /** Ends the session: flushes what it owes (briefly), then closes. */
  close(reason?: string): Promise<void>;
}
