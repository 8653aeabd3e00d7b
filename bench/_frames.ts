// Request frames encoded once before a benchmark runs, and the cheap
// splitting of response frames the load generators do. Internal to bench/.

import { create } from "@bufbuild/protobuf";
import { sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
import { fnv1a, RequestType } from "../wasm/wire.ts";

/** Request ids start here so every id is a 3-byte varint. */
export const ID_BASE = 1 << 14;
/** Largest number of distinct ids in a ring of pre-encoded frames. */
export const MAX_SLOTS = (1 << 21) - ID_BASE;

/** Which form of the path requests carry. */
export type PathForm = "hash" | "string";

/**
 * `count` REQUEST frames to `path` with ids `ID_BASE + (i % slots)`, back
 * to back; every frame has the same length (returned as `frameSize`).
 */
export function requestFrames(
  path: string,
  payload: Uint8Array,
  form: PathForm,
  count: number,
  slots: number,
): { frames: Uint8Array; frameSize: number } {
  if (slots > MAX_SLOTS) throw new Error(`at most ${MAX_SLOTS} slots`);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(sizeDelimitedEncode(
      NanoRPCRequestSchema,
      create(NanoRPCRequestSchema, {
        requestId: ID_BASE + (i % slots),
        requestType: RequestType.REQUEST,
        pathOneof: form === "hash"
          ? { case: "pathHash", value: fnv1a(path) }
          : { case: "path", value: path },
        data: payload,
      }),
    ));
  }
  const frameSize = parts[0].length;
  const frames = new Uint8Array(frameSize * count);
  parts.forEach((p, i) => {
    if (p.length !== frameSize) throw new Error("frames differ in length");
    frames.set(p, i * frameSize);
  });
  return { frames, frameSize };
}

/**
 * Splits the complete frames at the start of `buf[0, filled)`: calls
 * `onFrame(id, end)` for each, where `id` is the leading `request_id` field
 * (field 1, as both protobuf-es and our codec write it first) or -1 if the
 * frame does not start with it, and `end` the offset just past the frame.
 * Returns the end of the last whole frame.
 */
export function splitFrames(
  buf: Uint8Array,
  filled: number,
  onFrame: (id: number, end: number) => void,
): number {
  let at = 0;
  while (at < filled) {
    let p = at;
    let size = 0;
    let shift = 0;
    let b = 0x80;
    while (p < filled && (b & 0x80)) {
      b = buf[p++];
      size |= (b & 0x7f) << shift;
      shift += 7;
    }
    if (b & 0x80 || p + size > filled) break;
    const end = p + size;
    let id = -1;
    if (size > 1 && buf[p] === 0x08) {
      id = 0;
      shift = 0;
      p++;
      do {
        b = buf[p++];
        id |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80 && shift < 35);
    }
    onFrame(id, end);
    at = end;
  }
  return at;
}

/**
 * Reads a subscriber's connection until it ends: its first frame is the
 * SUBSCRIBE's ack (`onAck`), every later one an update whose data ends with
 * a little-endian 32-bit sequence number, reported with the time its read
 * arrived (`onUpdate`). The buffer grows only as frames need.
 */
export async function readUpdates(
  conn: Deno.Conn,
  onAck: () => void,
  onUpdate: (seq: number, at: number) => void,
): Promise<void> {
  let buf = new Uint8Array(4096);
  let filled = 0;
  let now = 0;
  let frames = 0;
  const onFrame = (_id: number, end: number) => {
    if (frames++ === 0) return onAck();
    onUpdate(
      buf[end - 4] | buf[end - 3] << 8 | buf[end - 2] << 16 |
        buf[end - 1] << 24,
      now,
    );
  };
  for (;;) {
    if (filled === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await conn.read(buf.subarray(filled));
    if (n === null) return;
    now = performance.now();
    filled += n;
    const end = splitFrames(buf, filled, onFrame);
    if (end > 0) {
      buf.copyWithin(0, end, filled);
      filled -= end;
    }
  }
}
