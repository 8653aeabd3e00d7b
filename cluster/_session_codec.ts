/**
 * The parts of forwarding messages that describe a session: the snapshot a
 * forwarded call carries, and the ops a remote handler made. See
 * _rpc_codec.ts for the messages around them.
 *
 * @module
 */

import type { SessionOp, SessionSnapshot } from "../server/forward.ts";
import { MalformedMessageError, type Reader, type Writer } from "./_bytes.ts";
import { readValue, writeValue } from "./_value_codec.ts";

/** Called with the key of an attribute left out of a snapshot, and why. */
export type SkippedValue = (key: string, error: Error) => void;

const OP_TAGS = [
  "set",
  "delete",
  "bind",
  "unbind",
  "push",
  "update",
  "join",
  "leave",
  "close",
  "broadcast", // older nodes read no broadcast: see carriesBroadcasts
] as const;

export function writeSession(
  w: Writer,
  s: SessionSnapshot,
  skipped: SkippedValue,
) {
  const a = s.remoteAddr;
  const flags = (s.uid !== undefined ? 1 : 0) |
    (a.hostname !== undefined ? 2 : 0) | (a.port !== undefined ? 4 : 0) |
    (a.path !== undefined ? 8 : 0);
  w.string(s.node).varint(s.id).byte(flags);
  if (s.uid !== undefined) w.string(s.uid);
  w.string(s.transport).string(a.transport);
  if (a.hostname !== undefined) w.string(a.hostname);
  if (a.port !== undefined) w.varint(a.port);
  if (a.path !== undefined) w.string(a.path);
  const countAt = w.at;
  w.ensure(4);
  w.at += 4; // count, as a fixed 4 bytes: known only after skipping
  let count = 0;
  for (const [key, value] of s.attributes) {
    const mark = w.at;
    try {
      w.string(key);
      writeValue(w, value);
      count++;
    } catch (err) {
      w.at = mark;
      skipped(key, err instanceof Error ? err : new Error(String(err)));
    }
  }
  new DataView(w.bytes.buffer).setUint32(countAt, count, true);
}

export function readSession(r: Reader): SessionSnapshot {
  const node = r.string("session node");
  const id = r.varint("session id");
  const flags = r.byte("session flags");
  const uid = flags & 1 ? r.string("uid") : undefined;
  const transport = r.string("transport");
  const peer = r.string("peer transport");
  const hostname = flags & 2 ? r.string("hostname") : undefined;
  const port = flags & 4 ? r.varint("port") : undefined;
  const path = flags & 8 ? r.string("peer path") : undefined;
  if (r.left < 4) {
    throw new MalformedMessageError("attribute count is cut short");
  }
  const count = new DataView(r.bytes.buffer, r.bytes.byteOffset + r.at, 4)
    .getUint32(0, true);
  r.at += 4;
  if (count > r.left) {
    throw new MalformedMessageError("attribute count exceeds the message");
  }
  const attributes = new Map<string, unknown>();
  for (let i = 0; i < count; i++) {
    attributes.set(r.string("attribute key"), readValue(r));
  }
  return {
    node,
    id,
    uid,
    transport,
    remoteAddr: {
      transport: peer,
      ...(hostname !== undefined && { hostname }),
      ...(port !== undefined && { port }),
      ...(path !== undefined && { path }),
    },
    attributes,
  };
}

export function writeOps(
  w: Writer,
  ops: readonly SessionOp[],
  skipped: SkippedValue,
) {
  w.varint(ops.length);
  for (const op of ops) {
    const mark = w.at;
    w.byte(OP_TAGS.indexOf(op.op));
    switch (op.op) {
      case "set":
        try {
          w.string(op.key);
          writeValue(w, op.value);
        } catch (err) {
          // The count is written already: a value that cannot travel
          // becomes a delete, so the home node keeps no stale value.
          w.at = mark;
          w.byte(OP_TAGS.indexOf("delete")).string(op.key);
          skipped(op.key, err instanceof Error ? err : new Error(String(err)));
        }
        break;
      case "delete":
        w.string(op.key);
        break;
      case "bind":
        w.string(op.uid);
        break;
      case "unbind":
        break;
      case "push":
        w.string(op.path).blob(op.data);
        break;
      case "update":
        w.int32(op.id).blob(op.data);
        break;
      case "join":
      case "leave":
        w.string(op.group);
        break;
      case "close":
        w.string(op.reason);
        break;
      case "broadcast":
        w.string(op.group).string(op.path).blob(op.data);
        break;
    }
  }
}

export function readOps(r: Reader): SessionOp[] {
  const n = r.count("op");
  const ops: SessionOp[] = [];
  for (let i = 0; i < n; i++) {
    const tag = OP_TAGS[r.byte("op")];
    switch (tag) {
      case "set":
        ops.push({ op: tag, key: r.string("key"), value: readValue(r) });
        break;
      case "delete":
        ops.push({ op: tag, key: r.string("key") });
        break;
      case "bind":
        ops.push({ op: tag, uid: r.string("uid") });
        break;
      case "unbind":
        ops.push({ op: tag });
        break;
      case "push":
        ops.push({ op: tag, path: r.string("path"), data: r.blob("data") });
        break;
      case "update":
        ops.push({ op: tag, id: r.int32("id"), data: r.blob("data") });
        break;
      case "join":
      case "leave":
        ops.push({ op: tag, group: r.string("group") });
        break;
      case "close":
        ops.push({ op: tag, reason: r.string("reason") });
        break;
      case "broadcast":
        ops.push({
          op: tag,
          group: r.string("group"),
          path: r.string("path"),
          data: r.blob("data"),
        });
        break;
      default:
        throw new MalformedMessageError("unknown op");
    }
  }
  return ops;
}
