/**
 * Groups (nano's `Group`): a named set of sessions to broadcast or
 * multicast pushes to, such as the players of one room.
 *
 * @module
 */

import type { Session } from "./session.ts";

/**
 * A named set of sessions. A session leaves every group when it ends.
 * Get one with `server.group(name)`. Broadcasts and multicasts travel
 * through the server's broker, so they reach the members of the group of
 * that name on every server sharing the broker.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * server.topic("/room/events");
 * const room = server.group("room-1");
 * server.handle("/room/enter", (ctx) => {
 *   room.add(ctx.session);
 *   room.broadcast("/room/events", new TextEncoder().encode("someone entered"));
 * });
 * ```
 */
export interface Group {
  /** The group's name, unique within its server. */
  readonly name: string;
  /** Number of members on this server. */
  readonly count: number;
  /** The members on this server, in the order they joined. */
  members(): Session[];
  /** Whether `session` is a member. */
  has(session: Session): boolean;
  /**
   * Adds `session`; adding a member again does nothing.
   *
   * @throws {Error} When the group or the session is closed.
   */
  add(session: Session): void;
  /** Removes `session`; returns whether it was a member. */
  remove(session: Session): boolean;
  /** Pushes `data` to every member's subscriptions to `path`. */
  broadcast(path: string, data: Uint8Array): void;
  /**
   * Pushes `data` to the listed members' subscriptions to `path`: sessions
   * (a remote handler's `ctx.session` is reached on its home node), or
   * uids bound with `session.bind` (on any server sharing the broker);
   * non-members are skipped.
   */
  multicast(
    path: string,
    data: Uint8Array,
    to: Iterable<Session | string>,
  ): void;
  /**
   * Removes every member and forgets the group: it then sends nothing
   * (`server.group(name)` makes a new group of that name).
   */
  close(): void;
}
