// Hostile frames for the stress run, built once into pools so that a
// million can be thrown fast: random valid requests (any field order,
// repeats, unknown fields, extreme ids), byte mutations and truncations of
// them, oversize length claims, varints over 10 bytes, bad wire types and
// plain random bytes. Each candidate is sorted by what the server's own
// codec makes of it: a frame it serves ("survivable") or one that ends the
// connection ("fatal"), so a connection can send many of the first and end
// with one of the second. Internal to bench/.

import { Codec, H_CONSUMED, H_ERROR, H_NEED } from "../wasm/codec.ts";
import { fnv1a } from "../wasm/wire.ts";
import { delimit, pushVarint } from "./_stress_wire.ts";

/** Kinds of hostile frame, for the summary. */
export const KINDS = [
  "random valid",
  "mutated",
  "truncated",
  "oversize claim",
  "long varint",
  "bad wire type",
  "random bytes",
] as const;
export type Kind = typeof KINDS[number];

/** A pooled frame and what it is. */
export interface PooledFrame {
  bytes: Uint8Array;
  kind: Kind;
}

/** The pools a stress run draws from. */
export interface FramePools {
  survivable: PooledFrame[];
  fatal: PooledFrame[];
}

const PATHS = [
  "/echo",
  "/room/join",
  "/room/send",
  "/room/messages",
  "/nope",
  "",
  "/",
  "/échø/ünïcødé",
  "/room/messages/../send",
];
const IDS = [0, 1, -1, 2147483647, -2147483648, 42, 7411];

/** xorshift32: fast, seeded, good enough to pick bytes. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    let s = this.#s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (this.#s = s >>> 0);
  }
  below(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() < p * 0x1_0000_0000;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  bytes(n: number): number[] {
    return Array.from({ length: n }, () => this.next() & 0xff);
  }
}

/** One field of a request body, as bytes. */
function field(rng: Rng): number[] {
  const out: number[] = [];
  switch (rng.below(9)) {
    case 0:
    case 1:
      out.push(0x08);
      pushVarint(out, rng.chance(0.5) ? rng.pick(IDS) : rng.next() | 0);
      break;
    case 2:
      out.push(0x10);
      pushVarint(out, rng.chance(0.9) ? rng.below(4) : rng.below(200));
      break;
    case 3:
      out.push(0x18);
      pushVarint(out, rng.chance(0.7) ? fnv1a(rng.pick(PATHS)) : rng.next());
      break;
    case 4: {
      const path = new TextEncoder().encode(rng.pick(PATHS));
      out.push(0x22);
      pushVarint(out, path.length);
      out.push(...path);
      break;
    }
    case 5:
    case 6: {
      const n = rng.chance(0.9) ? rng.below(48) : rng.below(2048);
      out.push(0x52);
      pushVarint(out, n);
      out.push(...rng.bytes(n));
      break;
    }
    default: {
      // An unknown field of a wire type that must be skipped: 0, 1, 2, 5.
      const number = 5 + rng.below(2000);
      const wire = rng.pick([0, 1, 2, 5]);
      pushVarint(out, number * 8 + wire);
      if (wire === 0) pushVarint(out, rng.next());
      else if (wire === 1) out.push(...rng.bytes(8));
      else if (wire === 5) out.push(...rng.bytes(4));
      else {
        const n = rng.below(32);
        pushVarint(out, n);
        out.push(...rng.bytes(n));
      }
    }
  }
  return out;
}

/** A valid request body: a few fields in any order, repeats allowed. */
function validBody(rng: Rng): number[] {
  const out: number[] = [];
  const fields = 1 + rng.below(6);
  for (let i = 0; i < fields; i++) out.push(...field(rng));
  return out;
}

function mutate(rng: Rng, body: number[]): number[] {
  const out = body.slice();
  const edits = 1 + rng.below(4);
  for (let i = 0; i < edits; i++) {
    const at = rng.below(out.length + 1);
    switch (rng.below(4)) {
      case 0:
        if (at < out.length) out[at] ^= 1 << rng.below(8);
        break;
      case 1:
        if (at < out.length) out[at] = rng.next() & 0xff;
        break;
      case 2:
        out.splice(at, 0, rng.next() & 0xff);
        break;
      default:
        out.splice(at, 1);
    }
  }
  return out;
}

/** A length prefix claiming more than the server accepts, then bytes. */
function oversize(rng: Rng): Uint8Array {
  const claims = [2 ** 20 + 1, 2 ** 24, 2 ** 30, 2 ** 32 - 1, 2 ** 32, 2 ** 35];
  const head: number[] = [];
  pushVarint(head, rng.pick(claims) + rng.below(1000));
  return new Uint8Array([...head, ...rng.bytes(rng.below(64))]);
}

/** A varint of 11 to 15 bytes, as the prefix or inside a field. */
function longVarint(rng: Rng): Uint8Array {
  const varint = [...Array(10 + rng.below(5)).fill(0x80), 0x01];
  if (rng.chance(0.5)) return new Uint8Array(varint);
  return delimit([0x08, ...varint, ...validBody(rng)]);
}

/** A valid body with a field of wire type 3, 4, 6 or 7 spliced in. */
function badWireType(rng: Rng): Uint8Array {
  const body = validBody(rng);
  const tag: number[] = [];
  pushVarint(tag, (1 + rng.below(20)) * 8 + rng.pick([3, 4, 6, 7]));
  const extra = [...tag, ...rng.bytes(rng.below(8))];
  return delimit(rng.chance(0.5) ? [...extra, ...body] : [...body, ...extra]);
}

function candidate(rng: Rng): PooledFrame {
  const roll = rng.below(100);
  if (roll < 30) {
    return { bytes: delimit(validBody(rng)), kind: "random valid" };
  }
  if (roll < 60) {
    return { bytes: delimit(mutate(rng, validBody(rng))), kind: "mutated" };
  }
  if (roll < 70) {
    const body = validBody(rng);
    const cut = body.slice(0, rng.below(body.length));
    // Either the prefix says the cut length (a field runs past the end) or
    // the old one (the frame swallows whatever follows).
    const bytes = rng.chance(0.5)
      ? delimit(cut)
      : delimit(body).subarray(0, 1 + rng.below(body.length));
    return { bytes, kind: "truncated" };
  }
  if (roll < 78) return { bytes: oversize(rng), kind: "oversize claim" };
  if (roll < 84) return { bytes: longVarint(rng), kind: "long varint" };
  if (roll < 92) return { bytes: badWireType(rng), kind: "bad wire type" };
  const n = rng.below(64);
  const bytes = rng.chance(0.5)
    ? delimit(rng.bytes(n))
    : new Uint8Array(rng.bytes(1 + n));
  return { bytes, kind: "random bytes" };
}

/**
 * Builds pools of `size` survivable and `size / 4` fatal frames (or more
 * until both are full), sorted by the server's codec with the default
 * 1 MiB limit.
 */
export function buildPools(seed: number, size: number): FramePools {
  const rng = new Rng(seed);
  const codec = new Codec();
  const pools: FramePools = { survivable: [], fatal: [] };
  const fatalSize = Math.max(1, size >> 2);
  while (pools.survivable.length < size || pools.fatal.length < fatalSize) {
    const frame = candidate(rng);
    const count = codec.decodeRequests(frame.bytes, 1024 * 1024);
    const w = codec.words;
    const whole = count === 1 && w[H_ERROR] === 0 &&
      w[H_CONSUMED] === frame.bytes.length && w[H_NEED] === 0;
    if (whole) {
      if (pools.survivable.length < size) pools.survivable.push(frame);
    } else if (pools.fatal.length < fatalSize) {
      // Malformed, or incomplete: it can only end a connection's stream.
      pools.fatal.push(frame);
    }
  }
  return pools;
}
