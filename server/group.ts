/**
 * Groups (nano's `Group`): a named set of sessions to broadcast or
 * multicast pushes to, such as the players of one room.
 *
 * @module
 */

import type { ServerCore } from "./_core.ts";
import type { Session } from "./session.ts";

/**
 * A named set of sessions. A session leaves every group when it ends.
 * Create one with `server.group(name)`.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc";
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
export class Group {
  /** The group's name, unique within its server. */
  readonly name: string;
  #core: ServerCore;
  #members = new Set<Session>();
  #channel: Disposable;
  #closed = false;

  /** Creates a group; use `server.group(name)` instead. */
  constructor(core: ServerCore, name: string) {
    this.#core = core;
    this.name = name;
    this.#channel = core.broker.subscribe(`group:${name}`, (m) => {
      for (const session of this.#members) session._pushOwned(m.path, m.data);
    });
  }

  /** Number of members. */
  get count(): number {
    return this.#members.size;
  }

  /** The members, in the order they joined. */
  members(): Session[] {
    return [...this.#members];
  }

  /** Whether `session` is a member. */
  has(session: Session): boolean {
    return this.#members.has(session);
  }

  /**
   * Adds `session`; adding a member again does nothing.
   *
   * @throws {Error} when the group or the session is closed.
   */
  add(session: Session): void {
    if (this.#closed) throw new Error(`Group ${this.name} is closed`);
    if (session.closed) throw new Error(`Session ${session.id} is closed`);
    if (this.#members.has(session)) return;
    this.#members.add(session);
    session._membership(this, true);
    this.#core.stats.groupMemberships++;
  }

  /** Removes `session`; returns whether it was a member. */
  remove(session: Session): boolean {
    if (!this.#members.delete(session)) return false;
    session._membership(this, false);
    this.#core.stats.groupMemberships--;
    return true;
  }

  /**
   * Pushes `data` to every member's subscriptions to `path`, in every
   * process sharing the server's broker.
   */
  broadcast(path: string, data: Uint8Array): void {
    this.#core.broker.publish(`group:${this.name}`, {
      path,
      data: data.slice(),
    });
  }

  /**
   * Pushes `data` to the listed members' subscriptions to `path` (sessions,
   * or uids bound with `session.bind`); non-members are skipped.
   *
   * @returns How many updates were queued.
   */
  multicast(
    path: string,
    data: Uint8Array,
    to: Iterable<Session | string>,
  ): number {
    const copy = data.slice();
    let sent = 0;
    for (const target of to) {
      const session = typeof target === "string"
        ? this.#core.uids.get(target)
        : target;
      if (session && this.#members.has(session)) {
        sent += session._pushOwned(path, copy);
      }
    }
    return sent;
  }

  /** Removes every member and forgets the group. */
  close(): void {
    for (const session of [...this.#members]) this.remove(session);
    this.#closed = true;
    try {
      this.#channel[Symbol.dispose]();
    } catch (err) {
      this.#core.logger.error(
        `group ${this.name}: releasing its broker channel failed: ${
          err instanceof Error ? err.message : err
        }`,
      );
    }
    if (this.#core.groups.get(this.name) === this) {
      this.#core.groups.delete(this.name);
    }
  }
}
