/**
 * The nodes of a {@link NatsForwarder}'s cluster as one node sees them:
 * heartbeats out and in (who serves which paths, who left, who went
 * silent), and the messages addressed to this node -- session ops, updates
 * of its sessions' remote subscriptions, releases and pushes -- handed to
 * the host. Every `auditInterval` ms, and when the link comes back, it
 * tells each node which of its subscriptions it holds, so that a release
 * lost while either link was down is sent again (only to nodes whose
 * heartbeats say they read those lists).
 *
 * @module
 */

import type { Msg, Subscription } from "@nats-io/transport-node";
import type { ForwardHost } from "../server/forward.ts";
import type { ForwardLink } from "./_forward_link.ts";
import { Presence } from "./_presence.ts";
import {
  decodeNodeMessage,
  encodeHeartbeat,
  encodeHeld,
  encodeRelease,
  MessageType,
  type NodeMessage,
} from "./_rpc_codec.ts";
import { UpdateBatcher } from "./_update_batch.ts";
// deno-lint-ignore no-unused-vars
import type { NatsForwarder } from "./nats_forwarder.ts";

/** Largest batch of updates sent to one node at once, in bytes. */
const MAX_BATCH = 256 * 1024;
/** Keys per list of held subscriptions (at most ~40 KB each). */
const AUDIT_CHUNK = 8192;

/** Heartbeats and node-addressed messages of one node. */
export class NodeMesh {
  readonly presence: Presence;
  readonly batcher: UpdateBatcher;
  updatesSent = 0;
  updatesReceived = 0;
  /** Lists of held subscriptions received from other nodes. */
  heldLists = 0;
  /** Keys other nodes held for this node that it no longer had. */
  staleReleased = 0;
  #link: ForwardLink;
  #host: ForwardHost;
  #subs: Subscription[];
  #timers: ReturnType<typeof setInterval>[] = [];
  #auditing: boolean;

  /**
   * Subscribes to this node's subject and to the heartbeats, and starts
   * beating every `interval` ms.
   *
   * @param link The forwarder's link.
   * @param host The server.
   * @param timing `interval`: ms between heartbeats; `timeout`: silence
   * after which a node is presumed gone, in ms; `auditInterval`: ms between
   * lists of held subscriptions, 0 for none.
   */
  constructor(
    link: ForwardLink,
    host: ForwardHost,
    timing: { interval: number; timeout: number; auditInterval: number },
  ) {
    const { interval, timeout, auditInterval } = timing;
    this.#link = link;
    this.#host = host;
    this.presence = new Presence(host.nodeId, timeout, performance.now());
    this.batcher = new UpdateBatcher(host.nodeId, (node, message, n) => {
      if (link.send(link.subjects.node(node), message, n)) {
        this.updatesSent += n;
      }
    }, MAX_BATCH);
    const callback = (err: Error | null, msg: Msg) => {
      if (!err) this.#receive(msg);
    };
    this.#subs = [
      link.nc.subscribe(link.subjects.node(host.nodeId), { callback }),
      link.nc.subscribe(link.subjects.nodes, { callback }),
    ];
    this.#auditing = auditInterval > 0;
    this.#every(interval, () => this.#tick());
    if (this.#auditing) {
      this.#every(auditInterval, () => {
        if (this.#link.state === "connected") this.audit();
      });
    }
  }

  #every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    Deno.unrefTimer(timer as unknown as number);
    this.#timers.push(timer);
  }

  /** Tells every node which paths this one serves (or that it leaves). */
  beat(leaving = false): void {
    const host = this.#host;
    const routes = leaving ? { requests: [], topics: [] } : host.routes();
    this.#link.send(
      this.#link.subjects.nodes,
      encodeHeartbeat({
        node: host.nodeId,
        leaving,
        readsHeld: true,
        readsBroadcasts: true,
        ...routes,
      }),
    );
  }

  /**
   * The link came back: nodes get a fresh timeout; say who we are and
   * what we hold for whom (releases sent meanwhile were lost).
   */
  linkUp(): void {
    this.presence.linkUp(performance.now());
    this.beat();
    if (this.#auditing) this.audit();
  }

  /**
   * Tells each home node the keys of the subscriptions this node holds for
   * its sessions; it answers with a release of those it no longer has.
   */
  audit(): void {
    const link = this.#link;
    for (const [node, keys] of this.#host.held()) {
      // An older node would count the list as malformed.
      if (!this.presence.readsHeld(node)) continue;
      for (let at = 0; at < keys.length; at += AUDIT_CHUNK) {
        link.send(
          link.subjects.node(node),
          encodeHeld(this.#host.nodeId, keys.slice(at, at + AUDIT_CHUNK)),
        );
      }
    }
  }

  /** Sends what is batched, says goodbye and unsubscribes. */
  stop(): void {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    this.batcher.flush();
    this.beat(true);
    for (const sub of this.#subs.splice(0)) sub.unsubscribe();
  }

  #tick(): void {
    if (this.#link.state !== "connected") return;
    this.beat();
    for (const node of this.presence.expire(performance.now())) {
      this.#gone(node, "stopped sending heartbeats");
    }
  }

  /**
   * Forgets `node` and runs the lost-node cleanup: what this node holds
   * for it is released, and what it held for this node's sessions is
   * subscribed again elsewhere. The cleanup runs only when `node` was
   * known, unless `always` (a node can hold subscriptions before its first
   * heartbeat is heard); every way a node is dropped goes through here.
   *
   * @example
   * ```ts ignore
   * mesh.lost("node-b", "answered no more calls");
   * ```
   */
  lost(node: string, why: string, always = false): void {
    const known = this.presence.forget(node);
    if (known || always) this.#gone(node, why, known);
  }

  /**
   * A node left or went silent: what it held is made again elsewhere. Only
   * a node that was known is logged: goodbyes of nodes never heard from
   * (or already forgotten) are as many as anyone publishes.
   */
  #gone(node: string, why: string, known = true): void {
    const line = `${this.#link.label}: node ${node} ${why}`;
    if (known) this.#link.logger.info(line);
    else this.#link.logger.debug(line);
    this.#host.release(node);
    this.#host.resubscribe(node);
  }

  #receive(msg: Msg): void {
    let m: NodeMessage;
    try {
      m = decodeNodeMessage(msg.data);
    } catch {
      return this.#link.drops.count("malformed");
    }
    const host = this.#host;
    switch (m.type) {
      case MessageType.OPS:
        return host.apply(m.sessionId, m.ops);
      case MessageType.UPDATES:
        return this.#updates(m.batch.from, m.batch.datas, m.batch.pairs);
      case MessageType.RELEASE:
        return host.release(m.from, m.keys);
      case MessageType.HELD:
        this.heldLists++;
        return this.#releaseStale(m.from, host.unheld(m.from, m.keys));
      case MessageType.PUSH:
        return host.push(m.from, m.sessionId, m.path, m.data);
      case MessageType.HEARTBEAT: {
        const h = m.heartbeat;
        if (h.leaving && h.node !== host.nodeId) {
          return this.lost(h.node, "left the cluster", true);
        }
        const heard = this.presence.heard(m.heartbeat, performance.now());
        if (heard === "joined") this.beat(); // so it learns of us soon
        return;
      }
    }
  }

  #updates(
    from: string,
    datas: readonly Uint8Array[],
    pairs: readonly number[],
  ): void {
    let stale: number[] | undefined;
    for (let i = 0; i < pairs.length; i += 2) {
      if (this.#host.update(from, pairs[i], datas[pairs[i + 1]])) {
        this.updatesReceived++;
      } else (stale ??= []).push(pairs[i]);
    }
    // Updates for subscriptions this node no longer has: the sender lets go.
    if (stale) this.#releaseStale(from, stale);
  }

  #releaseStale(node: string, keys: readonly number[]): void {
    this.staleReleased += keys.length;
    this.release(node, keys);
  }

  /** Tells `node` to let go of the subscriptions `keys` it holds for us. */
  release(node: string, keys: readonly number[]): void {
    if (keys.length === 0) return;
    const link = this.#link;
    link.send(
      link.subjects.node(node),
      encodeRelease(this.#host.nodeId, keys),
    );
  }
}
