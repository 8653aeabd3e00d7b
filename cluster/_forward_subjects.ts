/**
 * The NATS subjects forwarding uses, and the small vocabulary its messages
 * share:
 *
 * - `<prefix>.rpc.req.<hash>` / `<prefix>.rpc.sub.<hash>`: REQUESTs and
 *   SUBSCRIBEs for the path with that FNV-1a hash (8 hex digits), one
 *   queue group per path, so each call reaches one node serving it;
 * - `<prefix>.call.<node>`: calls routed by key to one node;
 * - `<prefix>.node.<node>`: session ops, updates, releases and pushes for
 *   one node;
 * - `<prefix>.nodes`: every node's heartbeats.
 *
 * @module
 */

import type { ForwardedCall } from "../server/forward.ts";
import { escapeToken } from "./_subject.ts";
import type { ForwardDropReason } from "./nats_forwarder_options.ts";

/** The wire protocol's statuses forwarding answers with. */
export const STATUS = { OK: 1, NOT_FOUND: 2, INTERNAL_ERROR: 4 } as const;

/** What to do about each kind of drop, for the log; closed ones are quiet. */
export const FORWARD_DROP_ADVICE: Record<
  ForwardDropReason,
  string | undefined
> = {
  disconnected:
    "NATS is unreachable; cross-node calls, updates and session changes resume when it is back",
  backpressure:
    "NATS does not confirm messages as fast as this node sends them; raise maxUnflushedBytes or send less",
  tooLarge:
    "a message is over the NATS server's max_payload; raise max_payload in nats-server's configuration",
  malformed:
    "a peer sent a message this node cannot read; run one nanorpc version across the cluster",
  busy:
    "too many forwarded calls at once; raise maxInflight / maxServing or add nodes",
  closed: undefined,
};

/** Builds the subjects of one cluster prefix. */
export class ForwardSubjects {
  /** Where every node's heartbeats go. */
  readonly nodes: string;
  /** The queue group name of every path's subject. */
  readonly queue = "nanorpc";
  #prefix: string;

  /** @param prefix A prefix that passed `checkPrefix`. */
  constructor(prefix: string) {
    this.#prefix = prefix;
    this.nodes = `${prefix}.nodes`;
  }

  /** The queue subject of calls of `kind` to the path with `hash`. */
  route(kind: "request" | "subscribe", hash: number): string {
    const h = (hash >>> 0).toString(16).padStart(8, "0");
    return `${this.#prefix}.rpc.${kind === "request" ? "req" : "sub"}.${h}`;
  }

  /** The subject of calls routed by key to `node`. */
  call(node: string): string {
    return `${this.#prefix}.call.${escapeToken(node)}`;
  }

  /** The subject of messages to `node`. */
  node(node: string): string {
    return `${this.#prefix}.node.${escapeToken(node)}`;
  }
}

/** `path /room/join` or `path hash 0x1234abcd`, for messages. */
export function routeLabel(call: ForwardedCall): string {
  return call.path !== undefined
    ? `path ${call.path}`
    : `path hash 0x${(call.pathHash >>> 0).toString(16).padStart(8, "0")}`;
}
