// The server's implementation of Group: members on this server, and a
// broker channel through which broadcasts and multicasts from any server
// reach them. A remote handler's session joins and leaves on its home
// node, with the call's answer; what the group sends it meanwhile travels
// in that answer too, after the change, and the broker skips it there.

import type { BrokerMessage } from "./broker.ts";
import { errorMessage, publish, type ServerCore } from "./_core.ts";
import type { Group } from "./group.ts";
import { RemoteSession } from "./_remote_session.ts";
import type { ServerSession } from "./_session.ts";
import type { Session } from "./session.ts";

export class GroupImpl implements Group {
  readonly name: string;
  #core: ServerCore;
  #members = new Set<ServerSession>();
  /** Sessions of other nodes added or removed by calls not answered yet. */
  #changing = new Set<RemoteSession>();
  #channel: Disposable;
  #closed = false;

  constructor(core: ServerCore, name: string) {
    this.#core = core;
    this.name = name;
    this.#channel = core.broker.subscribe(
      `group:${name}`,
      (m) => this.#deliver(m),
    );
  }

  get count(): number {
    return this.#members.size;
  }

  members(): Session[] {
    return [...this.#members];
  }

  has(session: Session): boolean {
    if (session instanceof RemoteSession) return session.joined(this.name);
    return this.#members.has(session as ServerSession);
  }

  add(session: Session): void {
    if (this.#closed) throw new Error(`Group ${this.name} is closed`);
    if (session.closed) throw new Error(`Session ${session.id} is closed`);
    // A session of another node joins the group there (membership lives
    // with the session; broadcasts reach every node through the broker).
    if (session instanceof RemoteSession) {
      session.join(this.name);
      return this.#changed(session);
    }
    const member = this.#own(session);
    if (this.#members.has(member)) return;
    this.#members.add(member);
    member.membership(this, true);
    this.#core.stats.groupMemberships++;
  }

  remove(session: Session): boolean {
    if (session instanceof RemoteSession) {
      const was = session.leave(this.name);
      this.#changed(session);
      return was;
    }
    const member = session as ServerSession;
    if (!this.#members.delete(member)) return false;
    member.membership(this, false);
    this.#core.stats.groupMemberships--;
    return true;
  }

  broadcast(path: string, data: Uint8Array): void {
    // Forgotten: the channel may be a new group's of the same name.
    if (this.#closed) return;
    const copy = data.slice();
    const except = this.#carry(path, copy, () => true);
    publish(this.#core, `group:${this.name}`, {
      path,
      data: copy,
      ...(except && { except }),
    });
  }

  multicast(
    path: string,
    data: Uint8Array,
    to: Iterable<Session | string>,
  ): void {
    if (this.#closed) return;
    const uids: string[] = [];
    const sessions: number[] = [];
    // A session id means something only on its home node: a remote
    // handler's session is addressed there, never to ours of the same id.
    const elsewhere = new Map<string, number[]>();
    for (const target of to) {
      if (typeof target === "string") uids.push(target);
      else if (target instanceof RemoteSession) {
        const ids = elsewhere.get(target.home);
        if (ids) ids.push(target.id);
        else elsewhere.set(target.home, [target.id]);
      } else sessions.push(target.id);
    }
    const copy = data.slice();
    let byUid: Set<string> | undefined;
    const except = this.#carry(
      path,
      copy,
      (proxy) =>
        elsewhere.get(proxy.home)?.includes(proxy.id) === true ||
        (proxy.uid !== undefined && (byUid ??= new Set(uids)).has(proxy.uid)),
    );
    if (uids.length > 0 || sessions.length > 0) {
      publish(this.#core, `group:${this.name}`, {
        path,
        data: copy,
        uids,
        sessions,
        origin: this.#core.nodeId,
        ...(except && { except }),
      });
    }
    for (const [home, all] of elsewhere) {
      const skip = except?.get(home);
      const ids = skip ? all.filter((id) => !skip.includes(id)) : all;
      if (ids.length === 0) continue;
      publish(this.#core, `group:${this.name}`, {
        path,
        data: copy,
        uids: [],
        sessions: ids,
        origin: home,
      });
    }
  }

  close(): void {
    for (const session of [...this.#members]) this.remove(session);
    this.#changing.clear();
    this.#closed = true;
    try {
      this.#channel[Symbol.dispose]();
    } catch (err) {
      this.#core.logger.error(
        `group ${this.name}: releasing its broker channel failed: ${
          errorMessage(err)
        }`,
      );
    }
    if (this.#core.groups.get(this.name) === this) {
      this.#core.groups.delete(this.name);
    }
  }

  /**
   * A proxy joined or left while its changes travel in the answer: until
   * the call is answered, the group's broadcasts reach it there.
   */
  #changed(proxy: RemoteSession): void {
    if (!proxy.inAnswer || this.#changing.has(proxy)) return;
    this.#changing.add(proxy);
    proxy.afterAnswer(() => this.#changing.delete(proxy));
  }

  /**
   * Carries a broadcast or multicast to the changing proxies it `targets`,
   * in their answers, once per session (two calls of one session may be
   * pending). Returns the sessions it was carried to, by home node, for the
   * broker message to skip: it may arrive there before the change. A proxy
   * whose answer is full goes back to the broker's copy, counted.
   */
  #carry(
    path: string,
    data: Uint8Array,
    targets: (proxy: RemoteSession) => boolean,
  ): Map<string, number[]> | undefined {
    if (this.#changing.size === 0) return undefined;
    const except = new Map<string, number[]>();
    const carried = new Set<string>();
    for (const proxy of this.#changing) {
      const session = `${proxy.home} ${proxy.id}`;
      if (targets(proxy) && !carried.has(session)) {
        if (!proxy.carry(this.name, path, data)) {
          this.#changing.delete(proxy);
          this.#core.stats.carryOverflows++;
          continue;
        }
        carried.add(session);
      }
      const ids = except.get(proxy.home);
      if (!ids) except.set(proxy.home, [proxy.id]);
      else if (!ids.includes(proxy.id)) ids.push(proxy.id);
    }
    return except.size === 0 ? undefined : except;
  }

  /** A broadcast or multicast from any server reaches our members. */
  #deliver(m: BrokerMessage): void {
    const skip = m.except?.get(this.#core.nodeId);
    const skipped = skip?.length ? new Set(skip) : undefined;
    if (m.uids === undefined && m.sessions === undefined) {
      for (const member of this.#members) {
        if (!skipped?.has(member.id)) member.pushOwned(m.path, m.data);
      }
      return;
    }
    const uids = m.uids && m.uids.length > 0 ? new Set(m.uids) : undefined;
    const ids = m.origin === this.#core.nodeId && m.sessions?.length
      ? new Set(m.sessions)
      : undefined;
    for (const member of this.#members) {
      const byUid = uids !== undefined && member.uid !== undefined &&
        uids.has(member.uid);
      if ((byUid || ids?.has(member.id)) && !skipped?.has(member.id)) {
        member.pushOwned(m.path, m.data);
      }
    }
  }

  #own(session: Session): ServerSession {
    const member = this.#core.sessions.get(session.id);
    if (member !== session) {
      throw new Error(`Session ${session.id} does not belong to this server`);
    }
    return member;
  }
}
