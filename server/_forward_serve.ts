// The serving side of forwarding: runs a call forwarded by another node
// through this server's middleware and handler (or topic), with a proxy
// session, and holds the subscriptions other nodes' sessions made here.

import { InternalError } from "../protocol/errors.ts";
import { Status } from "../wasm/wire.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import { newContext, type RequestContext } from "./_context.ts";
import { invoke, type Pending, type Responder } from "./_invoke.ts";
import type { Route } from "./_router.ts";
import { type OpSink, RemoteSession } from "./_remote_session.ts";
import { withTraceparent } from "./tracing.ts";
import type { Subscription } from "./_topic.ts";
import type {
  ForwardedAnswer,
  ForwardedCall,
  Forwarder,
  SessionOp,
} from "./forward.ts";
import { checkFilterSize } from "./_subscriptions.ts";

const EMPTY = new Uint8Array(0);

/** Subscriptions this server holds for one other node's sessions. */
interface NodeHold {
  byKey: Map<number, Subscription>;
  bySession: Map<number, Set<Subscription>>;
}

/** Captures the answer `invoke` gives, instead of writing it to a peer. */
class Capture implements Responder {
  status: number = Status.INTERNAL_ERROR;
  message: string | undefined = "The handler did not answer";
  data: Uint8Array = EMPTY;

  constructor(readonly core: ServerCore, readonly label: string) {}

  // The forwarder (cluster/) counts and drains the calls it serves.
  begin(): void {}

  end(): void {}

  lend(): void {}

  respond(
    _id: number,
    _type: number,
    status: number,
    message: string | undefined,
    data: Uint8Array,
  ): void {
    this.status = status;
    this.message = message;
    this.data = data;
  }

  toString(): string {
    return this.label;
  }
}

export class ForwardServe {
  #core: ServerCore;
  #forward: Forwarder;
  #held = new Map<string, NodeHold>();
  #heldCount = 0;
  #maxHeld: number;
  #stop = new AbortController();

  constructor(core: ServerCore, forward: Forwarder, maxHeld = 100_000) {
    this.#core = core;
    this.#forward = forward;
    this.#maxHeld = maxHeld;
  }

  /** Serves `call`; never rejects. */
  async serve(call: ForwardedCall): Promise<ForwardedAnswer> {
    const core = this.#core;
    const route = core.router.lookup(call.pathHash);
    const what = call.kind === "request" ? "handler" : "topic";
    const shown = call.path ??
      `hash 0x${call.pathHash.toString(16).padStart(8, "0")}`;
    if (route && call.path !== undefined && route.path !== call.path) {
      return this.#fail(
        Status.INTERNAL_ERROR,
        `Path ${call.path} has the same FNV-1a hash as the registered path ${route.path}; rename one of them`,
      );
    }
    const target = call.kind === "request" ? route?.handler : route?.topic;
    if (!route || !target) {
      return this.#fail(Status.NOT_FOUND, `No ${what} for path ${shown}`);
    }
    const ops: SessionOp[] = [];
    const home = call.session.node;
    const sid = call.session.id;
    const proxy = new RemoteSession(call.session, {
      op: (op) => ops.push(op),
      update: (id, data) => {
        ops.push({ op: "update", id, data: data.slice() });
        return true;
      },
      answer: this.#forward.carriesBroadcasts?.(home) === true,
    }, this.#stop.signal);
    const capture = new Capture(core, `${proxy}`);
    const ctx = newContext(
      call.kind,
      proxy,
      route,
      call.requestId,
      call.data,
    );
    // No read to time it with: its clock starts now (for the metrics).
    ctx.startedAt = performance.now();
    if (call.traceparent) ctx.state.set("traceparent", call.traceparent);
    try {
      // The serving span (when tracing) is a child of the caller's.
      const done = withTraceparent(
        call.traceparent,
        () =>
          call.kind === "request"
            ? invoke(capture, ctx, route.handler!)
            : this.#subscribe(capture, ctx, route, call),
      );
      if (done) await done;
    } catch (err) {
      capture.status = Status.INTERNAL_ERROR;
      capture.message = `Serving ${shown} failed: ${errorMessage(err)}`;
    } finally {
      proxy.redirect(this.#direct(home, sid));
    }
    return {
      status: capture.status,
      message: capture.message,
      data: capture.data,
      ops,
      node: core.nodeId,
    };
  }

  /** Lets go of what `node` subscribed here: the `keys`, or everything. */
  release(node: string, keys?: readonly number[]): void {
    const hold = this.#held.get(node);
    if (!hold) return;
    if (keys === undefined) {
      for (const sub of hold.byKey.values()) this.#unhold(hold, sub);
      this.#held.delete(node);
      return;
    }
    for (const key of keys) {
      const sub = hold.byKey.get(key);
      if (sub) this.#unhold(hold, sub);
    }
    if (hold.byKey.size === 0) this.#held.delete(node);
  }

  /** The keys of what this server holds, by home node. */
  held(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [node, hold] of this.#held) {
      out.set(node, [...hold.byKey.keys()]);
    }
    return out;
  }

  /** A push to a session of `from`: its subscriptions held here decide. */
  push(from: string, sessionId: number, path: string, data: Uint8Array): void {
    const subs = this.#held.get(from)?.bySession.get(sessionId);
    if (!subs) return;
    for (const sub of subs) {
      if (sub.topic.path === path && sub.topic.accepts(sub, data)) {
        sub.session.sendUpdate(sub.id, data);
      }
    }
  }

  /** Stops holding anything; proxies' signals abort. */
  close(): void {
    for (const node of [...this.#held.keys()]) this.release(node);
    this.#stop.abort("the server is shutting down");
  }

  /**
   * Like a local SUBSCRIBE: the subscription attaches only when the OK
   * answer is made, keyed by the home node's key; the proxy it holds sends
   * each accepted update home.
   */
  #subscribe(
    capture: Capture,
    ctx: RequestContext,
    route: Route,
    call: ForwardedCall,
  ): Promise<void> | undefined {
    const key = call.key;
    const home = call.session.node;
    const pending: Pending = {};
    const prepare = (ctx: RequestContext): undefined => {
      const topic = route.topic!;
      if (key === undefined) {
        throw new InternalError("A forwarded SUBSCRIBE came without its key");
      }
      checkFilterSize(ctx.data.length, this.#core.limits.maxFilterSize);
      const hold = this.#held.get(home);
      if (this.#heldCount >= this.#maxHeld && !hold?.byKey.has(key)) {
        throw new InternalError(
          `This node holds ${this.#maxHeld} subscriptions for other nodes; subscribe on another node or raise the limit`,
        );
      }
      const subscriber = new RemoteSession(call.session, {
        op: (op) => this.#forward.ops(home, call.session.id, [op]),
        update: (k, data) => {
          this.#forward.update(home, k, data);
          return true;
        },
      }, this.#stop.signal);
      let sub: Subscription;
      try {
        sub = topic.prepare(subscriber, key, ctx.data);
      } catch (err) {
        throw new InternalError(
          `Invalid subscription filter for ${topic.path}: ${errorMessage(err)}`,
        );
      }
      pending.commit = () => this.#hold(home, sub);
    };
    const last = (ctx: RequestContext) =>
      route.topic!.whenDecodable(ctx.data, () => prepare(ctx));
    return invoke(capture, ctx, last, pending);
  }

  #hold(node: string, sub: Subscription): void {
    let hold = this.#held.get(node);
    if (!hold) {
      this.#held.set(node, hold = { byKey: new Map(), bySession: new Map() });
    }
    const old = hold.byKey.get(sub.id);
    if (old) this.#unhold(hold, old);
    hold.byKey.set(sub.id, sub);
    let subs = hold.bySession.get(sub.session.id);
    if (!subs) hold.bySession.set(sub.session.id, subs = new Set());
    subs.add(sub);
    sub.topic.attach(sub);
    this.#heldCount++;
  }

  #unhold(hold: NodeHold, sub: Subscription): void {
    if (hold.byKey.get(sub.id) !== sub) return;
    hold.byKey.delete(sub.id);
    const subs = hold.bySession.get(sub.session.id);
    subs?.delete(sub);
    if (subs?.size === 0) hold.bySession.delete(sub.session.id);
    sub.topic.detach(sub);
    this.#heldCount--;
  }

  /** Where a proxy's changes go once its call was answered. */
  #direct(home: string, sessionId: number): OpSink {
    return {
      op: (op) => this.#forward.ops(home, sessionId, [op]),
      update: (id, data) => {
        this.#forward.ops(home, sessionId, [{
          op: "update",
          id,
          data: data.slice(),
        }]);
        return true;
      },
    };
  }

  #fail(status: number, message: string): ForwardedAnswer {
    return { status, message, data: EMPTY, ops: [], node: this.#core.nodeId };
  }
}
