// The home side of forwarding: a session's REQUEST or SUBSCRIBE for a path
// this server does not serve goes to the forwarder, and its answer comes
// back on the same request id, after the ops the remote handler made. The
// records of remote subscriptions live here, keyed by a number this server
// picks, so that an update that arrives after an unsubscribe ack (or from a
// node that no longer holds the subscription) is dropped.

import { ResponseType, Status } from "../wasm/wire.ts";
import { fnv1a } from "../wasm/wire.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import { applyOp } from "./_forward_apply.ts";
import { joinedTraceparent } from "./_tracing.ts";
import type { ServerSession } from "./_session.ts";
import type {
  ForwardedAnswer,
  ForwardedCall,
  Forwarder,
  SessionOp,
  SessionSnapshot,
} from "./forward.ts";
import { MAX_TIMER } from "./_timer.ts";

const EMPTY = new Uint8Array(0);
/** Time limit of a forwarded call when the server's handlers have none. */
const DEFAULT_TIMEOUT = 30_000;

/** A session's subscription held by another node. */
interface RemoteSub {
  /** Its key; each attempt to subscribe again takes a fresh one. */
  key: number;
  readonly session: ServerSession;
  readonly id: number;
  readonly hash: number;
  readonly path: string | undefined;
  /** The filter, kept to subscribe again after an outage. */
  readonly filter: Uint8Array;
  /** The node holding it; `undefined` until acknowledged, or while lost. */
  holder: string | undefined;
  /** Acknowledged to the peer and not unsubscribed. */
  active: boolean;
  /** Counts attempts to subscribe again; older ones are ignored. */
  epoch: number;
  /** Holder and key before subscribing again: released once that succeeds. */
  previous: { node: string; key: number } | undefined;
}

export class ForwardHome {
  #core: ServerCore;
  #forward: Forwarder;
  #nextKey = 1;
  #byKey = new Map<number, RemoteSub>();
  #bySession = new Map<ServerSession, Map<number, RemoteSub>>();

  constructor(core: ServerCore, forward: Forwarder) {
    this.#core = core;
    this.#forward = forward;
  }

  /** Remote subscriptions of this server's sessions. */
  get subscriptions(): number {
    return this.#byKey.size;
  }

  /**
   * A REQUEST or SUBSCRIBE for a path this server does not serve. The
   * caller awaits the returned promise before serving the session's next
   * frame, so a session's answers stay in order. `data` is read before
   * this returns.
   */
  miss(
    session: ServerSession,
    kind: "request" | "subscribe",
    id: number,
    hash: number,
    path: string | undefined,
    data: Uint8Array,
  ): Promise<void> | undefined {
    const own = this.#bySession.get(session);
    if (kind === "request" && data.length === 0) {
      const sub = own?.get(id);
      if (sub && sub.hash === hash) {
        this.#end(sub, true);
        session.respond(id, ResponseType.RESPONSE, Status.OK, undefined, EMPTY);
        return;
      }
    }
    let sub: RemoteSub | undefined;
    if (kind === "subscribe") {
      const limit = this.#core.limits.maxSubscriptionsPerSession;
      const count = session.subscriptions.size + (own?.size ?? 0);
      const maxFilter = this.#core.limits.maxFilterSize;
      const refusal = !own?.has(id) && count >= limit
        ? `Subscription limit of ${limit} per session reached: unsubscribe first`
        // The filter is kept to subscribe again after an outage.
        : data.length > maxFilter
        ? `Subscription filter of ${data.length} bytes is over this server's maxFilterSize of ${maxFilter} bytes: send a smaller filter`
        : undefined;
      if (refusal) {
        session.respond(
          id,
          ResponseType.RESPONSE,
          Status.NOT_AUTHORIZED,
          refusal,
          EMPTY,
        );
        return;
      }
      sub = {
        key: this.#nextKey++,
        session,
        id,
        hash,
        path,
        filter: data.slice(),
        holder: undefined,
        active: false,
        epoch: 0,
        previous: undefined,
      };
      this.#byKey.set(sub.key, sub);
      // What the holder sends before its answer is here follows the ack.
      session.awaitAck(id);
    }
    const call: ForwardedCall = {
      kind,
      pathHash: hash,
      path,
      requestId: id,
      data,
      session: this.#snapshot(session),
      key: sub?.key,
      traceparent: joinedTraceparent(),
    };
    session.begin();
    return this.#forward.call(call, { timeout: this.#timeout() })
      .then((answer) => this.#answered(session, id, sub, answer))
      .catch((err) => {
        if (sub) this.#byKey.delete(sub.key);
        session.respond(
          id,
          ResponseType.RESPONSE,
          Status.INTERNAL_ERROR,
          `Forwarding ${path ?? "the request"} failed: ${errorMessage(err)}`,
          EMPTY,
        );
      })
      .finally(() => {
        if (sub) session.acked(id, false); // nothing if the ack let them go
        session.end();
      });
  }

  /** A session pushed to `path`: the nodes holding its subscriptions to it. */
  pushed(session: ServerSession, path: string, data: Uint8Array): void {
    const own = this.#bySession.get(session);
    if (!own) return;
    const hash = fnv1a(path);
    const sent = new Set<string>();
    for (const sub of own.values()) {
      const holder = sub.holder;
      if (!sub.active || sub.hash !== hash || !holder || sent.has(holder)) {
        continue;
      }
      sent.add(holder);
      this.#forward.push(holder, session.id, path, data);
    }
  }

  /** How many acknowledged subscriptions of `session` other nodes hold. */
  count(session: ServerSession): number {
    return this.#bySession.get(session)?.size ?? 0;
  }

  /** Whether `session` has an acknowledged subscription `id` held elsewhere. */
  holds(session: ServerSession, id: number): boolean {
    return this.#bySession.get(session)?.get(id)?.active === true;
  }

  /** An update from `from` for the subscription `key`. */
  update(from: string, key: number, data: Uint8Array): boolean {
    const sub = this.#byKey.get(key);
    if (!sub) return false;
    // Not acknowledged yet: it waits for the ack. Being subscribed again:
    // the key is this attempt's, so it is from the node answering it.
    if (sub.holder === undefined) {
      if (sub.active) sub.session.queueUpdate(sub.id, data);
      else sub.session.sendUpdate(sub.id, data);
      return true;
    }
    if (sub.holder !== from) return false;
    if (sub.active) sub.session.queueUpdate(sub.id, data);
    return true;
  }

  /**
   * Of the `keys` node `from` holds for this server's sessions, those no
   * subscription here is held by `from` with: a release that never reached
   * it. A key still waiting for its answer is held (the answer decides).
   */
  unheld(from: string, keys: readonly number[]): number[] {
    return keys.filter((key) => {
      const sub = this.#byKey.get(key);
      return sub === undefined ||
        (sub.holder !== undefined && sub.holder !== from);
    });
  }

  /** Ops a remote handler sent after its answer. */
  apply(sessionId: number, ops: readonly SessionOp[]): void {
    const session = this.#core.sessions.get(sessionId);
    if (session && !session.closed) this.#apply(session, ops);
  }

  /**
   * Subscribes again what `node` held (or everything, after the link came
   * back): the holder may have lost it. Failed attempts are retried, one,
   * two, four, then five seconds apart, while the session lives.
   */
  resubscribe(node?: string): void {
    // A copy: each attempt moves the subscription to a fresh key.
    for (const sub of [...this.#byKey.values()]) {
      if (!sub.active || (node !== undefined && sub.holder !== node)) continue;
      // (while no attempt succeeded, the first holder stays the one to tell)
      if (sub.holder !== undefined) {
        sub.previous = { node: sub.holder, key: sub.key };
      }
      sub.holder = undefined;
      this.#again(sub, ++sub.epoch, 0);
    }
  }

  #again(sub: RemoteSub, epoch: number, attempt: number): void {
    if (
      !sub.active || sub.epoch !== epoch || this.#byKey.get(sub.key) !== sub
    ) return;
    // A fresh key per attempt: releasing a stale one's cannot touch a newer.
    this.#byKey.delete(sub.key);
    const key = sub.key = this.#nextKey++;
    this.#byKey.set(key, sub);
    const live = () =>
      sub.active && sub.epoch === epoch && this.#byKey.get(key) === sub;
    const call: ForwardedCall = {
      kind: "subscribe",
      pathHash: sub.hash,
      path: sub.path,
      requestId: sub.id,
      data: sub.filter,
      session: this.#snapshot(sub.session),
      key,
    };
    this.#forward.call(call, { timeout: this.#timeout() }).then((answer) => {
      const ok = answer.status === Status.OK;
      if (!live()) {
        if (ok) this.#forward.release(answer.node, [key]);
        return;
      }
      this.#apply(sub.session, answer.ops);
      if (ok) {
        sub.holder = answer.node;
        this.#releasePrevious(sub);
        return;
      }
      if (attempt === 0) {
        this.#core.logger.warn(
          `${sub.session}: subscribing again to ${
            sub.path ?? `path hash ${sub.hash}`
          } failed (${answer.message}); retrying`,
        );
      }
      const timer = setTimeout(
        () => this.#again(sub, epoch, attempt + 1),
        Math.min(1000 * 2 ** attempt, 5000),
      );
      Deno.unrefTimer(timer);
    });
  }

  #answered(
    session: ServerSession,
    id: number,
    sub: RemoteSub | undefined,
    answer: ForwardedAnswer,
  ): void {
    if (session.closed) {
      if (sub) this.#byKey.delete(sub.key);
      if (sub && answer.status === Status.OK) {
        this.#forward.release(answer.node, [sub.key]);
      }
      return;
    }
    // Updates the serving node's middleware sent for a SUBSCRIBE follow
    // its OK ack, as a local SUBSCRIBE's do (and go with a refusal).
    const ops = sub ? answer.ops.filter((op) => op.op !== "update") : [];
    this.#apply(session, sub ? ops : answer.ops);
    if (sub) {
      if (answer.status === Status.OK && !session.closed) {
        this.#commit(sub, answer.node);
      } else this.#byKey.delete(sub.key);
    }
    session.respond(
      id,
      ResponseType.RESPONSE,
      answer.status,
      answer.message,
      answer.data,
    );
    if (sub?.active && ops.length < answer.ops.length) {
      this.#apply(session, answer.ops.filter((op) => op.op === "update"));
    }
    if (sub) session.acked(id, sub.active);
  }

  #commit(sub: RemoteSub, holder: string): void {
    const session = sub.session;
    let own = this.#bySession.get(session);
    if (!own) {
      this.#bySession.set(session, own = new Map());
      session.signal.addEventListener("abort", () => this.#ended(session), {
        once: true,
      });
    }
    const old = own.get(sub.id);
    if (old) this.#end(old, true);
    own.set(sub.id, sub);
    sub.holder = holder;
    sub.active = true;
    this.#core.stats.subscriptions++;
  }

  /** Unsubscribed (or replaced): forget it and tell the holder. */
  #end(sub: RemoteSub, tell: boolean): void {
    if (this.#byKey.get(sub.key) !== sub) return;
    this.#byKey.delete(sub.key);
    const own = this.#bySession.get(sub.session);
    if (own?.get(sub.id) === sub) own.delete(sub.id);
    if (sub.active) this.#core.stats.subscriptions--;
    sub.active = false;
    if (tell && sub.holder) this.#forward.release(sub.holder, [sub.key]);
    if (tell) this.#releasePrevious(sub);
  }

  /** Tells the holder before subscribing again to let go. */
  #releasePrevious(sub: RemoteSub): void {
    const previous = sub.previous;
    sub.previous = undefined;
    if (previous) this.#forward.release(previous.node, [previous.key]);
  }

  #ended(session: ServerSession): void {
    const own = this.#bySession.get(session);
    this.#bySession.delete(session);
    if (!own) return;
    const byHolder = new Map<string, number[]>();
    const add = (holder: string, key: number) => {
      let keys = byHolder.get(holder);
      if (!keys) byHolder.set(holder, keys = []);
      keys.push(key);
    };
    for (const sub of own.values()) {
      this.#end(sub, false);
      if (sub.holder) add(sub.holder, sub.key);
      if (sub.previous) add(sub.previous.node, sub.previous.key);
      sub.previous = undefined;
    }
    for (const [holder, keys] of byHolder) this.#forward.release(holder, keys);
  }

  #apply(session: ServerSession, ops: readonly SessionOp[]): void {
    for (const op of ops) {
      try {
        applyOp(this.#core, session, op);
      } catch (err) {
        this.#core.logger.warn(
          `${session}: a remote handler's ${op.op} failed: ${
            errorMessage(err)
          }`,
        );
      }
    }
  }

  #snapshot(session: ServerSession): SessionSnapshot {
    return {
      node: this.#core.nodeId,
      id: session.id,
      uid: session.uid,
      transport: session.transport,
      remoteAddr: session.remoteAddr,
      attributes: session.attributes(),
    };
  }

  #timeout(): number {
    const limit = this.#core.limits.handlerTimeout;
    return limit > 0 && limit < MAX_TIMER ? limit : DEFAULT_TIMEOUT;
  }
}
