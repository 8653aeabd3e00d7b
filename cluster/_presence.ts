/**
 * The other nodes of a cluster as their heartbeats describe them: which
 * paths each serves, when it was last heard, and which one a routing key
 * belongs to (rendezvous hashing, so that every node picks the same one
 * for the same key while they see the same nodes).
 *
 * A node is presumed gone when it has not been heard for `timeout` ms
 * while this node's own link was up the whole time: an outage of the link
 * says nothing about the other nodes.
 *
 * @module
 */

import { fnv1a } from "../wasm/wire.ts";
import type { Heartbeat } from "./_rpc_codec.ts";

interface Known {
  lastHeard: number;
  requests: Set<number>;
  topics: Set<number>;
  /** Time limits of its routes that set their own, by path hash. */
  timeouts: Map<number, number> | undefined;
  /** Whether it reads lists of held subscriptions (newer nodes do). */
  readsHeld: boolean;
}

/** Added to a route's own time limit for the trip there and back, in ms. */
const SLACK = 1000;
/** setTimeout fires at once for delays of 2^31 ms or more. */
const MAX_TIMER = 2 ** 31 - 1;

/** Most nodes remembered; heartbeats from more are ignored. */
const MAX_NODES = 4096;

/** What a heartbeat changed. */
export type HeardResult = "joined" | "known" | "left" | "ignored";

/** The nodes this node has heard from. */
export class Presence {
  #nodes = new Map<string, Known>();
  /** Known nodes that do not read broadcast ops and except lists. */
  #older = new Set<string>();
  #self: string;
  #timeout: number;
  /** When this node's link last came up (ms, performance.now()). */
  #upSince: number;

  /**
   * @param self This node's id (its own heartbeats are ignored).
   * @param timeout Silence after which a node is presumed gone, in ms.
   * @param now The current time, in ms.
   */
  constructor(self: string, timeout: number, now: number) {
    this.#self = self;
    this.#timeout = timeout;
    this.#upSince = now;
  }

  /** Nodes known. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Ids of the nodes known. */
  nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Takes in a heartbeat. */
  heard(h: Heartbeat, now: number): HeardResult {
    if (h.node === this.#self) return "ignored";
    if (h.leaving) return this.forget(h.node) ? "left" : "ignored";
    const known = this.#nodes.get(h.node);
    if (!known && this.#nodes.size >= MAX_NODES) return "ignored";
    this.#nodes.set(h.node, {
      lastHeard: now,
      requests: new Set(h.requests),
      topics: new Set(h.topics),
      timeouts: timeoutsOf(h.timeouts),
      readsHeld: h.readsHeld === true,
    });
    if (h.readsBroadcasts) this.#older.delete(h.node);
    else this.#older.add(h.node);
    return known ? "known" : "joined";
  }

  /** Whether `node` said it reads lists of held subscriptions. */
  readsHeld(node: string): boolean {
    return this.#nodes.get(node)?.readsHeld === true;
  }

  /**
   * Whether `node` reads broadcast ops in answers, and every node known
   * reads broker envelopes that list members to skip (an older one would
   * drop them as malformed).
   */
  readsBroadcasts(node: string): boolean {
    return this.#older.size === 0 && this.#nodes.has(node);
  }

  /** This node's link came back: everyone gets a fresh `timeout`. */
  linkUp(now: number): void {
    this.#upSince = now;
  }

  /**
   * Forgets and returns the nodes silent for `timeout` ms while the link
   * was up.
   */
  expire(now: number): string[] {
    const gone: string[] = [];
    const since = Math.max(now - this.#timeout, this.#upSince);
    if (now - this.#upSince < this.#timeout) return gone;
    for (const [node, known] of this.#nodes) {
      if (known.lastHeard < since) gone.push(node);
    }
    for (const node of gone) this.forget(node);
    return gone;
  }

  /** Forgets `node` (it was seen leaving another way). */
  forget(node: string): boolean {
    this.#older.delete(node);
    return this.#nodes.delete(node);
  }

  /**
   * How long to wait for a forwarded call to `hash`: the longest time limit
   * a node serving it set on its route, plus `SLACK` ms for the trip, or
   * `fallback` when none sets one (a limit of 0, none, counts as unset).
   */
  timeout(
    kind: "request" | "subscribe",
    hash: number,
    fallback: number,
  ): number {
    let longest = 0;
    for (const known of this.#nodes.values()) {
      const serves = kind === "request" ? known.requests : known.topics;
      const limit = known.timeouts?.get(hash) ?? 0;
      if (limit > longest && serves.has(hash)) longest = limit;
    }
    return longest > 0 ? Math.min(longest + SLACK, MAX_TIMER) : fallback;
  }

  /**
   * The node that `key` belongs to among those serving `hash` (as a
   * request handler, or as a topic for `subscribe`), or `undefined` when
   * none is known.
   */
  pick(
    kind: "request" | "subscribe",
    hash: number,
    key: string,
  ): string | undefined {
    let best: string | undefined;
    let bestScore = -1;
    for (const [node, known] of this.#nodes) {
      const serves = kind === "request" ? known.requests : known.topics;
      if (!serves.has(hash)) continue;
      const score = mix(fnv1a(`${key}\u0000${node}`));
      if (score > bestScore || (score === bestScore && node < best!)) {
        best = node;
        bestScore = score;
      }
    }
    return best;
  }
}

function timeoutsOf(pairs: readonly number[] | undefined) {
  if (!pairs?.length) return undefined;
  const map = new Map<number, number>();
  for (let i = 0; i + 1 < pairs.length; i += 2) map.set(pairs[i], pairs[i + 1]);
  return map;
}

/** Spreads FNV-1a's bits (the murmur3 finalizer), so close keys scatter. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
