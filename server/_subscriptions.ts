// One session's subscriptions, by request id. The registry attaches a
// subscription to its topic when the SUBSCRIBE is acknowledged and detaches
// it on unsubscribe or when the session ends, keeping the server's count.

import { NotAuthorizedError } from "../protocol/errors.ts";
import type { ServerSession } from "./_session.ts";
import type { ServerStats } from "./stats.ts";
import type { Subscription } from "./_topic.ts";

/**
 * Throws when a SUBSCRIBE's filter of `size` bytes is over `max` (the
 * server's `maxFilterSize`): a subscription keeps its filter while it
 * lives.
 */
export function checkFilterSize(size: number, max: number): void {
  if (size > max) {
    throw new NotAuthorizedError(
      `Subscription filter of ${size} bytes is over this server's maxFilterSize of ${max} bytes: send a smaller filter`,
    );
  }
}

export class SubscriptionRegistry {
  #subs?: Map<number, Subscription>;
  #stats: ServerStats;
  #limit: number;

  constructor(stats: ServerStats, limit: number) {
    this.#stats = stats;
    this.#limit = limit;
  }

  get size(): number {
    return this.#subs?.size ?? 0;
  }

  get(id: number): Subscription | undefined {
    return this.#subs?.get(id);
  }

  /** Throws when a new subscription `id` would pass the per-session limit. */
  checkLimit(id: number): void {
    const subs = this.#subs;
    if (!(subs?.has(id) ?? false) && (subs?.size ?? 0) >= this.#limit) {
      throw new NotAuthorizedError(
        `Subscription limit of ${this.#limit} per session reached: unsubscribe first`,
      );
    }
  }

  /** Attaches `sub`, replacing a subscription with the same id. */
  add(sub: Subscription): void {
    this.checkLimit(sub.id);
    const old = this.#subs?.get(sub.id);
    if (old) this.remove(old);
    (this.#subs ??= new Map()).set(sub.id, sub);
    sub.topic.attach(sub);
    this.#stats.subscriptions++;
  }

  remove(sub: Subscription): void {
    if (this.#subs?.get(sub.id) !== sub) return;
    sub.topic.detach(sub);
    this.#subs.delete(sub.id);
    this.#stats.subscriptions--;
  }

  /** Queues `data` for every subscription to `path` that accepts it. */
  push(path: string, data: Uint8Array): number {
    if (!this.#subs) return 0;
    let sent = 0;
    for (const sub of this.#subs.values()) {
      if (sub.topic.path === path && sub.topic.accepts(sub, data)) {
        // Registered here, so live: the unchecked path.
        if ((sub.session as ServerSession).queueUpdate(sub.id, data)) sent++;
      }
    }
    return sent;
  }

  /** Detaches everything (the session ended). */
  clear(): void {
    if (!this.#subs) return;
    for (const sub of this.#subs.values()) sub.topic.detach(sub);
    this.#stats.subscriptions -= this.#subs.size;
    this.#subs.clear();
  }
}
