// Differential fuzz of requestPathOption against protobuf-es `getOption`:
// seeded `(nanorpc)` occurrences holding request paths (some starting with
// U+FEFF, some not UTF-8), unknown fields of every wire type, groups, and
// in one case of three a damage (truncation, field 0, wire type 6 or 7, a
// mismatched end group, a tag longer than 5 bytes or over 32 bits, a
// request_path of another wire type, a varint over 10 bytes, a length of
// 2^32 or more). Both must give the same path or both refuse, except for
// the last three damages, which protobuf-es reads leniently (by the
// field's type, any varint length, the low 32 bits of a length) and
// requestPathOption refuses, as a Google protobuf parser does.

import assert from "node:assert/strict";
import {
  create,
  createFileRegistry,
  type DescMethod,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import {
  FileDescriptorProtoSchema,
  type MethodOptions,
  MethodOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { nanorpc } from "../proto/gen/nanorpc_pb.ts";
import { randomText } from "../wasm/_test_utils.ts";
import { FUZZ_SEED, fuzzCases, Rng, varint } from "../testing/_wire_fuzz.ts";
import { requestPathOption } from "./_request_path_option.ts";

const CASES = fuzzCases(600);
/** Damages protobuf-es reads leniently and requestPathOption refuses. */
const LENIENT = new Set(["path as another wire type", "long varint", "2^32"]);

const tag = (out: number[], no: number, wt: number) =>
  varint(out, BigInt(no * 8 + wt));

function lengthDelimited(out: number[], no: number, bytes: ArrayLike<number>) {
  tag(out, no, 2);
  varint(out, BigInt(bytes.length));
  out.push(...Array.from(bytes));
}

function path(rng: Rng): Uint8Array {
  const bytes = new TextEncoder().encode(
    (rng.chance(0.2) ? "\uFEFF" : "") + "/" + randomText(rng, 8),
  );
  if (!rng.chance(0.1)) return bytes;
  return new Uint8Array([
    ...bytes,
    ...rng.pick([[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xff]]),
  ]);
}

function field(rng: Rng, out: number[], depth = 0): void {
  const no = rng.pick([2, 3, 6, 100, 5020]);
  switch (rng.int(6)) {
    case 0:
    case 1:
      return lengthDelimited(out, 1, path(rng));
    case 2:
      tag(out, no, 0);
      return varint(out, BigInt(rng.u32()) << BigInt(rng.int(32)));
    case 3:
      tag(out, no, rng.pick([1, 5]));
      return void out.push(...rng.bytes(out[out.length - 1] & 4 ? 4 : 8));
    case 4:
      return lengthDelimited(out, no, rng.bytes(rng.int(6)));
    default:
      if (depth > 2) return;
      tag(out, no, 3);
      for (let i = rng.int(3); i > 0; i--) field(rng, out, depth + 1);
      tag(out, no, 4);
  }
}

const DAMAGES: Record<string, (rng: Rng, out: number[]) => void> = {
  "cut": (rng, out) => void out.splice(rng.int(out.length)),
  "field 0": (rng, out) => out.push(rng.pick([0, 2, 5]), 0, 0, 0, 0),
  "wire type 6 or 7": (rng, out) => tag(out, 9, rng.range(6, 7)),
  "mismatched end group": (_, out) => out.push(0x33, 0x3c),
  "tag of 6 bytes": (_, out) => (varint(out, 0x10n, 5), out.push(1)),
  "tag over 32 bits": (_, out) => out.push(0x90, 0x80, 0x80, 0x80, 0x10, 1),
  "path as another wire type": (rng, out) => {
    tag(out, 1, rng.pick([0, 1, 5]));
    out.push(1, 0x61, 0, 0, 0, 0, 0, 0);
  },
  "long varint": (_, out) => out.push(0x10, ...Array(11).fill(0x80), 0),
  "2^32": (
    _,
    out,
  ) => (tag(out, 1, 2), varint(out, (1n << 32n) | 1n), out.push(0x61)),
};

/** One occurrence's bytes (its length, then the message), and its damage. */
function occurrence(rng: Rng): { data: Uint8Array; damage?: string } {
  const body: number[] = [];
  for (let i = rng.int(5); i > 0; i--) field(rng, body);
  const damage = rng.chance(0.3) ? rng.pick(Object.keys(DAMAGES)) : undefined;
  if (damage) DAMAGES[damage](rng, body);
  const data: number[] = [];
  varint(data, BigInt(body.length));
  return { data: new Uint8Array([...data, ...body]), damage };
}

/** Methods whose options hold the given occurrences, one list each. */
function methodsWith(lists: Uint8Array[][]): DescMethod[] {
  const method = lists.map((list, i) => {
    const options: MethodOptions = create(MethodOptionsSchema);
    options.$unknown = list.map((data) => ({
      no: nanorpc.number,
      wireType: WireType.LengthDelimited,
      data,
    }));
    return { name: `M${i}`, inputType: ".f.N", outputType: ".f.N", options };
  });
  const file = create(FileDescriptorProtoSchema, {
    name: "f.proto",
    package: "f",
    syntax: "proto3",
    messageType: [{ name: "N" }],
    service: [{ name: "S", method }],
  });
  return createFileRegistry(file, () => undefined).getService("f.S")!.methods;
}

function outcome(read: () => string | undefined): string | undefined | Error {
  try {
    return read();
  } catch (err) {
    return err as Error;
  }
}

Deno.test(`requestPathOption reads ${CASES} fuzzed (nanorpc) options as getOption does, or refuses what it reads leniently`, () => {
  const rng = new Rng(FUZZ_SEED + 10);
  const cases = Array.from(
    { length: CASES },
    () => Array.from({ length: rng.range(1, 3) }, () => occurrence(rng)),
  );
  const methods = methodsWith(cases.map((list) => list.map((o) => o.data)));
  let lenient = 0;
  methods.forEach((method, i) => {
    const ours = outcome(() => requestPathOption(method));
    const theirs = outcome(() =>
      hasOption(method, nanorpc)
        ? getOption(method, nanorpc).requestPath
        : undefined
    );
    const damages = cases[i].map((o) => o.damage);
    const why = `case ${i} (${damages}): ${
      cases[i].map((o) =>
        Array.from(o.data, (b) => b.toString(16).padStart(2, "0")).join("")
      ).join(", ")
    }`;
    if (theirs instanceof Error) {
      assert.ok(
        ours instanceof Error,
        `${why}: protobuf-es refuses it (${theirs.message}), we read ${
          JSON.stringify(ours)
        }`,
      );
    } else if (
      ours instanceof Error && damages.some((d) => d && LENIENT.has(d))
    ) {
      lenient++;
    } else {
      assert.equal(ours, theirs, why);
    }
  });
  assert.ok(lenient > 0);
});

Deno.test("requestPathOption keeps a leading U+FEFF and refuses a path that is not UTF-8, as getOption does", () => {
  const [bom, bad] = methodsWith([
    [new Uint8Array([5, 0x0a, 3, 0xef, 0xbb, 0xbf])],
    [new Uint8Array([4, 0x0a, 2, 0xc0, 0x80])],
  ]);
  assert.equal(getOption(bom, nanorpc).requestPath, "\uFEFF");
  assert.equal(requestPathOption(bom), "\uFEFF");
  assert.throws(() => getOption(bad, nanorpc));
  assert.throws(() => requestPathOption(bad), /is malformed/);
});

Deno.test("requestPathOption refuses a tag longer than 5 bytes or over 32 bits, as getOption does", () => {
  const methods = methodsWith([
    // Field 2, varint 1, its tag (0x10) written in 6 bytes.
    [new Uint8Array([7, 0x90, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01])],
    // Tag 2^32 + 16: five bytes, the last holding bits past 32.
    [new Uint8Array([6, 0x90, 0x80, 0x80, 0x80, 0x10, 0x01])],
  ]);
  for (const method of methods) {
    assert.throws(() => getOption(method, nanorpc), /illegal tag/);
    assert.throws(() => requestPathOption(method), /is malformed/);
  }
});
