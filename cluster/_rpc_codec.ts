/**
 * The binary messages forwarding sends over NATS: a forwarded call, its
 * answer, and the messages one node sends another (session ops, updates of
 * held subscriptions, releases, pushes) and every node sends all
 * (heartbeats). Every message starts with the version byte and its type:
 *
 * ```
 * CALL       flags (1 subscribe, 2 path, 4 key, 8 traceparent), zigzag
 *            request id, path hash, [path], [key], [traceparent], session
 *            (node, id, flags 1 uid / 2 hostname / 4 port / 8 path, [uid],
 *            transport, peer transport, [hostname], [port], [path],
 *            attributes: count, then key and value each), data (rest)
 * ANSWER     status, flags (1 message), [message], node, ops, data (rest)
 * OPS        session id, ops
 * UPDATES    from, count of data, each data, count of pairs, each key and
 *            data index
 * RELEASE    from, keys
 * PUSH       from, session id, path, data (rest)
 * HEARTBEAT  node, flags (1 leaving, 2 reads HELD, 4 reads broadcast ops
 *            and broker envelopes with except lists), request hashes,
 *            topic hashes, [count of timeouts, each path hash and ms]
 *            (older nodes send neither flag 2 nor 4 nor the timeouts)
 * HELD       from, keys
 * ```
 *
 * An op is a tag and its fields; a value is a tag and its bytes (see
 * _value_codec.ts).
 *
 * @module
 */

import type {
  ForwardedAnswer,
  ForwardedCall,
  SessionOp,
} from "../server/forward.ts";
import { MalformedMessageError, Reader, Writer } from "./_bytes.ts";
import {
  readOps,
  readSession,
  type SkippedValue,
  writeOps,
  writeSession,
} from "./_session_codec.ts";

export type { SkippedValue };

/** The message format version this module writes and reads. */
export const RPC_VERSION = 1;

/** Message types. */
export const MessageType = {
  CALL: 1,
  ANSWER: 2,
  OPS: 3,
  UPDATES: 4,
  RELEASE: 5,
  PUSH: 6,
  HEARTBEAT: 7,
  HELD: 8,
} as const;

/** Updates for held subscriptions, on their way to one home node. */
export interface UpdateBatch {
  /** The node holding the subscriptions. */
  readonly from: string;
  /** Each distinct update's data. */
  readonly datas: readonly Uint8Array[];
  /** Pairs: subscription key, then the index of its data in `datas`. */
  readonly pairs: readonly number[];
}

/** What a heartbeat says about its node. */
export interface Heartbeat {
  readonly node: string;
  readonly leaving: boolean;
  readonly requests: readonly number[];
  readonly topics: readonly number[];
  /** Hash and ms of each path whose route sets its own time limit. */
  readonly timeouts?: readonly number[];
  /** The node reads HELD messages (older nodes do not say so). */
  readonly readsHeld?: boolean;
  /**
   * The node reads `broadcast` ops and broker envelopes that list members
   * to skip (older nodes do not say so).
   */
  readonly readsBroadcasts?: boolean;
}

/** A decoded message to a node. */
export type NodeMessage =
  | { type: 3; sessionId: number; ops: SessionOp[] }
  | { type: 4; batch: UpdateBatch }
  | { type: 5; from: string; keys: number[] }
  | { type: 6; from: string; sessionId: number; path: string; data: Uint8Array }
  | { type: 7; heartbeat: Heartbeat }
  | { type: 8; from: string; keys: number[] };

function start(type: number, size = 256): Writer {
  return new Writer(size).byte(RPC_VERSION).byte(type);
}

function open(bytes: Uint8Array): { r: Reader; type: number } {
  const r = new Reader(bytes);
  const version = r.byte("version");
  if (version !== RPC_VERSION) {
    throw new MalformedMessageError(
      `version ${version} is unknown (this node reads ${RPC_VERSION}); run one nanorpc version across the cluster`,
    );
  }
  return { r, type: r.byte("type") };
}

/** Encodes a forwarded call; attributes that cannot travel are skipped. */
export function encodeCall(
  call: ForwardedCall,
  skipped: SkippedValue,
): Uint8Array {
  const w = start(MessageType.CALL, 128 + call.data.length);
  const flags = (call.kind === "subscribe" ? 1 : 0) |
    (call.path !== undefined ? 2 : 0) | (call.key !== undefined ? 4 : 0) |
    (call.traceparent !== undefined ? 8 : 0);
  w.byte(flags).int32(call.requestId).varint(call.pathHash >>> 0);
  if (call.path !== undefined) w.string(call.path);
  if (call.key !== undefined) w.varint(call.key);
  if (call.traceparent !== undefined) w.string(call.traceparent);
  writeSession(w, call.session, skipped);
  return w.raw(call.data).finish();
}

/** Decodes a forwarded call; `data` is a view into `bytes`. */
export function decodeCall(bytes: Uint8Array): ForwardedCall {
  const { r, type } = open(bytes);
  if (type !== MessageType.CALL) {
    throw new MalformedMessageError(`type ${type} where a call was expected`);
  }
  const flags = r.byte("call flags");
  const requestId = r.int32("request id");
  const pathHash = r.varint("path hash");
  const path = flags & 2 ? r.string("path") : undefined;
  const key = flags & 4 ? r.varint("key") : undefined;
  const traceparent = flags & 8 ? r.string("traceparent") : undefined;
  const session = readSession(r);
  return {
    kind: flags & 1 ? "subscribe" : "request",
    requestId,
    pathHash,
    path,
    key,
    traceparent,
    session,
    data: r.rest(),
  };
}

/** Encodes an answer; ops whose value cannot travel are skipped. */
export function encodeAnswer(
  answer: ForwardedAnswer,
  skipped: SkippedValue,
): Uint8Array {
  const w = start(MessageType.ANSWER, 64 + answer.data.length);
  w.varint(answer.status).byte(answer.message !== undefined ? 1 : 0);
  if (answer.message !== undefined) w.string(answer.message);
  w.string(answer.node);
  writeOps(w, answer.ops, skipped);
  return w.raw(answer.data).finish();
}

/** Decodes an answer; `data` is a view into `bytes`. */
export function decodeAnswer(bytes: Uint8Array): ForwardedAnswer {
  const { r, type } = open(bytes);
  if (type !== MessageType.ANSWER) {
    throw new MalformedMessageError(
      `type ${type} where an answer was expected`,
    );
  }
  const status = r.varint("status");
  const message = r.byte("answer flags") & 1 ? r.string("message") : undefined;
  const node = r.string("node");
  const ops = readOps(r);
  return { status, message, node, ops, data: r.rest() };
}

/** Encodes session ops sent after an answer. */
export function encodeOps(
  sessionId: number,
  ops: readonly SessionOp[],
  skipped: SkippedValue,
): Uint8Array {
  const w = start(MessageType.OPS).varint(sessionId);
  writeOps(w, ops, skipped);
  return w.finish();
}

/** Encodes a batch of updates for one home node. */
export function encodeUpdates(batch: UpdateBatch): Uint8Array {
  let size = 32 + batch.pairs.length * 4;
  for (const d of batch.datas) size += d.length + 4;
  const w = start(MessageType.UPDATES, size).string(batch.from);
  w.varint(batch.datas.length);
  for (const d of batch.datas) w.blob(d);
  w.varint(batch.pairs.length / 2);
  for (const n of batch.pairs) w.varint(n);
  return w.finish();
}

/** Encodes a release of subscription keys. */
export function encodeRelease(
  from: string,
  keys: readonly number[],
): Uint8Array {
  return encodeKeys(MessageType.RELEASE, from, keys);
}

/**
 * Encodes what a node holds for another's sessions: the keys `from` still
 * has; the home node releases those it no longer knows.
 */
export function encodeHeld(from: string, keys: readonly number[]): Uint8Array {
  return encodeKeys(MessageType.HELD, from, keys);
}

function encodeKeys(
  type: number,
  from: string,
  keys: readonly number[],
): Uint8Array {
  const w = start(type, 16 + from.length * 3 + keys.length * 5).string(from);
  w.varint(keys.length);
  for (const key of keys) w.varint(key);
  return w.finish();
}

/** Encodes a push to the subscriptions held for a session. */
export function encodePush(
  from: string,
  sessionId: number,
  path: string,
  data: Uint8Array,
): Uint8Array {
  return start(MessageType.PUSH, 64 + data.length).string(from)
    .varint(sessionId).string(path).raw(data).finish();
}

/** Encodes a heartbeat. */
export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  const w = start(MessageType.HEARTBEAT).string(h.node)
    .byte(
      (h.leaving ? 1 : 0) | (h.readsHeld ? 2 : 0) |
        (h.readsBroadcasts ? 4 : 0),
    );
  w.varint(h.requests.length);
  for (const x of h.requests) w.varint(x >>> 0);
  w.varint(h.topics.length);
  for (const x of h.topics) w.varint(x >>> 0);
  const timeouts = h.timeouts ?? [];
  w.varint(timeouts.length / 2);
  for (const x of timeouts) w.varint(x >>> 0);
  return w.finish();
}

function hashes(r: Reader, what: string): number[] {
  const n = r.count(what);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.varint(what));
  return out;
}

/** Decodes a message sent to a node (or a heartbeat). */
export function decodeNodeMessage(bytes: Uint8Array): NodeMessage {
  const { r, type } = open(bytes);
  switch (type) {
    case MessageType.OPS:
      return { type, sessionId: r.varint("session id"), ops: readOps(r) };
    case MessageType.UPDATES: {
      const from = r.string("from");
      const n = r.count("data");
      const datas: Uint8Array[] = [];
      for (let i = 0; i < n; i++) datas.push(r.blob("data"));
      const m = r.count("pair");
      const pairs: number[] = [];
      for (let i = 0; i < m; i++) {
        pairs.push(r.varint("key"));
        const index = r.varint("data index");
        if (index >= datas.length) {
          throw new MalformedMessageError("data index out of range");
        }
        pairs.push(index);
      }
      return { type, batch: { from, datas, pairs } };
    }
    case MessageType.RELEASE:
    case MessageType.HELD: {
      const from = r.string("from");
      return { type, from, keys: hashes(r, "key") };
    }
    case MessageType.PUSH:
      return {
        type,
        from: r.string("from"),
        sessionId: r.varint("session id"),
        path: r.string("path"),
        data: r.rest(),
      };
    case MessageType.HEARTBEAT: {
      const node = r.string("node");
      const flags = r.byte("flags");
      const leaving = (flags & 1) === 1;
      const requests = hashes(r, "request hash");
      const topics = hashes(r, "topic hash");
      const heartbeat: Heartbeat = {
        node,
        leaving,
        requests,
        topics,
        ...(flags & 2 ? { readsHeld: true } : {}),
        ...(flags & 4 ? { readsBroadcasts: true } : {}),
      };
      if (r.left === 0) return { type, heartbeat }; // from an older node
      const timeouts: number[] = [];
      for (let n = r.count("timeout"); n > 0; n--) {
        timeouts.push(r.varint("timeout hash"), r.varint("timeout"));
      }
      return { type, heartbeat: { ...heartbeat, timeouts } };
    }
    default:
      throw new MalformedMessageError(`unknown message type ${type}`);
  }
}
