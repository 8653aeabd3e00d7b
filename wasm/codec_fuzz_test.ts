// Differential fuzz of the WASM decoders (the server's decodeRequests, the
// client's decodeResponses) against protobuf-es. Seeded streams of frames
// (testing/_wire_fuzz.ts: every field in any order and repeated, unknown
// fields of every wire type, non-minimal and 10-byte varints, ids past 32
// bits, path or path_hash, empty to 70 KB data, and in 4 bodies of 10 a
// damage: truncated varints, lengths past the end, wrong wire types,
// groups, field 0, over-long varints and tags, bad UTF-8; oversize and
// partial prefixes) are read three ways:
//
// - the codec must report exactly what `specFrames` (DESIGN §2 and README
//   "Protocol", written out plainly) reports: every value, frame bounds,
//   the reason code and offset of a refusal, `need`;
// - `specFrames` must agree with protobuf-es: `fromBinary` on every body,
//   `sizeDelimitedPeek` on every prefix. Where protobuf-es accepts a body
//   the spec refuses, the spec must name the documented rule (README: "A
//   malformed frame ...") that makes us stricter; each is counted, and each
//   must have been met, so a quiet generator cannot hide one.
//
// FUZZ_SEED and FUZZ_CASES override the seed and the number of streams.

import assert from "node:assert/strict";
import { sizeDelimitedPeek } from "@bufbuild/protobuf/wire";
import { codec } from "./codec.ts";
import { ResponseFrames } from "./frames.ts";
import {
  concat,
  decodeRequests,
  expectedRequest,
  expectedResponse,
  frame,
  fromBinary,
  header,
  NanoRPCRequestSchema,
  NanoRPCResponseSchema,
  offsetsInBounds,
} from "./_test_utils.ts";
import {
  FUZZ_SEED,
  fuzzCases,
  fuzzStream,
  Rng,
  type SpecFields,
  specFrames,
  type SpecResult,
} from "../testing/_wire_fuzz.ts";

const CASES = fuzzCases(2500);
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function asRequest(f: SpecFields) {
  return {
    id: f.id,
    type: f.type,
    kind: f.kind,
    hash: f.hash,
    path: f.path,
    data: f.data,
  };
}

function asResponse(f: SpecFields) {
  return {
    id: f.id,
    type: f.type,
    status: f.status,
    message: strict.decode(f.message),
    data: f.data,
  };
}

/** What a run met: frames, refusals by reason, documented differences. */
class Tally {
  frames = 0;
  refusals = new Map<number, number>();
  documented = new Map<string, number>();
  add(map: Map<string | number, number>, key: string | number): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

type Kind = "requests" | "responses";

/** Checks the codec against the spec, and the spec against protobuf-es. */
function judge(input: Uint8Array, max: number, kind: Kind, tally: Tally) {
  const spec = specFrames(input, max);
  if (kind === "requests") {
    const r = decodeRequests(input, max);
    assert.deepEqual(
      [r.count, r.consumed, r.error, r.errorAt, r.need],
      [spec.frames.length, spec.consumed, spec.error, spec.errorAt, spec.need],
    );
    r.entries.forEach((e, i) => {
      const { start, end, ...fields } = e;
      const s = spec.frames[i];
      assert.deepEqual([start, end], [s.start, s.end]);
      assert.deepEqual(fields, asRequest(s.fields));
    });
  } else {
    codec.decodeResponses(input, max);
    const h = header();
    assert.deepEqual(
      [h.count, h.consumed, h.error, h.errorAt, h.need],
      [spec.frames.length, spec.consumed, spec.error, spec.errorAt, spec.need],
    );
    const f = new ResponseFrames().load(codec.words);
    while (f.next()) {
      const s = spec.frames[f.index];
      assert.deepEqual([f.frameStart, f.frameEnd], [s.start, s.end]);
      assert.deepEqual(
        {
          id: f.id,
          type: f.type,
          status: f.status,
          message: strict.decode(f.message(input)),
          data: f.data(input),
        },
        asResponse(s.fields),
      );
    }
  }
  assert.ok(offsetsInBounds(input.length, kind === "responses"));
  againstProtobufEs(input, spec, kind, tally);
}

function againstProtobufEs(
  input: Uint8Array,
  spec: SpecResult,
  kind: Kind,
  tally: Tally,
): void {
  for (const s of spec.frames) {
    const peek = sizeDelimitedPeek(input.subarray(s.start));
    assert.deepEqual(
      [peek.size, s.start + peek.offset!],
      [s.body.length, s.end - s.body.length],
      "sizeDelimitedPeek",
    );
    let pb;
    try {
      pb = kind === "requests"
        ? expectedRequest(fromBinary(NanoRPCRequestSchema, s.body))
        : expectedResponse(fromBinary(NanoRPCResponseSchema, s.body));
    } catch (err) {
      assert.fail(`protobuf-es refuses a body the spec accepts: ${err}`);
    }
    assert.deepEqual(
      kind === "requests" ? asRequest(s.fields) : asResponse(s.fields),
      pb,
    );
    tally.frames++;
  }
  if (spec.error !== 0) tally.add(tally.refusals, spec.error);
  if (spec.error === 0 && spec.need === 0 && spec.consumed < input.length) {
    // Stopped at a partial prefix: protobuf-es waits too.
    const peek = sizeDelimitedPeek(input.subarray(spec.consumed));
    assert.ok(peek.eof, "sizeDelimitedPeek waits for the prefix");
  }
  if (spec.need !== 0) {
    const peek = sizeDelimitedPeek(input.subarray(spec.consumed));
    assert.equal(peek.offset! + peek.size!, spec.need, "need");
  }
  const body = spec.refusedBody;
  if (body === undefined) return;
  try {
    fromBinary(
      kind === "requests" ? NanoRPCRequestSchema : NanoRPCResponseSchema,
      body,
    );
  } catch {
    return; // Both refuse.
  }
  const rule = spec.refusal!.rule;
  assert.ok(
    rule,
    `protobuf-es accepts a body refused (reason ${
      spec.refusal!.reason
    }) by no documented rule`,
  );
  tally.add(tally.documented, rule);
}

function fails(input: Uint8Array, max: number, kind: Kind): boolean {
  try {
    judge(input, max, kind, new Tally());
    return false;
  } catch {
    return true;
  }
}

/** Runs of bytes `parts[k]` can do without while `failing` stays true. */
function dropRuns(
  parts: Uint8Array[],
  k: number,
  failing: (parts: Uint8Array[]) => boolean,
): void {
  let tries = 5_000;
  for (let run = parts[k].length >> 1; run >= 1; run >>= 1) {
    for (let at = 0; at + run <= parts[k].length && tries-- > 0;) {
      const was = parts[k];
      parts[k] = concat([was.subarray(0, at), was.subarray(at + run)]);
      if (failing(parts)) continue;
      parts[k] = was;
      at++;
    }
  }
}

/** A body cut into its fields (the unreadable rest is the last "field"). */
function fieldsOf(body: Uint8Array): Uint8Array[] {
  const fields: Uint8Array[] = [];
  let at = 0;
  const varint = () => {
    let v = 0;
    for (let i = 0; i < 10 && at < body.length; i++) {
      const b = body[at++];
      v += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return v;
    }
    return -1;
  };
  while (at < body.length) {
    const start = at;
    const tag = varint();
    const wt = tag & 7;
    const n = tag < 0
      ? -1
      : wt === 0
      ? (varint() < 0 ? -1 : 0)
      : wt === 1
      ? 8
      : wt === 5
      ? 4
      : wt === 2
      ? varint()
      : -1;
    if (n < 0 || at + n > body.length) {
      fields.push(body.subarray(start));
      break;
    }
    at += n;
    fields.push(body.subarray(start, at));
  }
  return fields;
}

/**
 * A small input that still `fails`: whole frames dropped, then runs of
 * bytes from each body (its prefix rewritten) and from the bytes after the
 * last whole frame; byte runs of the raw input if rewriting prefixes hides
 * the failure.
 */
function shrink(input: Uint8Array, fails: (b: Uint8Array) => boolean) {
  const spec = specFrames(input, 2 ** 31);
  const bodies = spec.frames.map((f) => f.body);
  const parts = [...bodies, input.subarray(spec.consumed)];
  const join = (p: Uint8Array[]) =>
    concat([...p.slice(0, -1).map(frame), p[p.length - 1]]);
  const failing = (p: Uint8Array[]) => fails(join(p));
  if (!failing(parts)) {
    const raw = [input];
    dropRuns(raw, 0, (p) => fails(p[0]));
    return raw[0];
  }
  for (let k = parts.length - 2; k >= 0; k--) {
    const without = parts.filter((_, i) => i !== k);
    if (failing(without)) parts.splice(k, 1);
  }
  for (let k = 0; k < parts.length - 1; k++) {
    const fields = fieldsOf(parts[k]);
    for (let f = fields.length - 1; f >= 0; f--) {
      const was = parts[k];
      parts[k] = concat(fields.filter((_, i) => i !== f));
      if (failing(parts)) fields.splice(f, 1);
      else parts[k] = was;
    }
  }
  for (let k = 0; k < parts.length; k++) dropRuns(parts, k, failing);
  return join(parts);
}

const RULES = [
  "known field with another wire type",
  "group",
  "unknown varint over 10 bytes",
  "length of 2^32 or more",
];

for (const kind of ["requests", "responses"] as const) {
  const method = kind === "requests" ? "decodeRequests" : "decodeResponses";
  Deno.test(`${method} matches protobuf-es on ${CASES} fuzzed streams, or refuses by a documented rule`, () => {
    const rng = new Rng(FUZZ_SEED + (kind === "requests" ? 0 : 1));
    const tally = new Tally();
    for (let i = 0; i < CASES; i++) {
      const s = fuzzStream(rng);
      try {
        judge(s.input, s.max, kind, tally);
      } catch (err) {
        const least = shrink(s.input, (b) => fails(b, s.max, kind));
        throw new Error(
          `case ${i}, max ${s.max}, smallest failing ${kind}: ${hex(least)}`,
          { cause: err },
        );
      }
    }
    for (const rule of RULES) {
      assert.ok(tally.documented.get(rule), `never met: ${rule}`);
    }
    // Every reason code was met.
    for (let reason = 1; reason <= 7; reason++) {
      assert.ok(tally.refusals.get(reason), `never refused with ${reason}`);
    }
    if (Deno.env.get("FUZZ_VERBOSE")) {
      console.log(
        kind,
        tally.frames,
        "frames",
        tally.refusals,
        tally.documented,
      );
    }
  });
}
