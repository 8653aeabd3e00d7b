import assert from "node:assert/strict";
import { codec } from "./codec.ts";
import { fnv1a, Status, statusName } from "./wire.ts";
import { Rng, utf8 } from "./_test_utils.ts";

const VECTORS: [string, number][] = [
  ["", 0x811c9dc5],
  ["a", 0xe40c292c],
  ["foobar", 0xbf9cf968],
];

Deno.test("fnv1a returns the known FNV-1a 32-bit vectors", () => {
  for (const [text, hash] of VECTORS) assert.equal(fnv1a(text), hash, text);
});

Deno.test("codec.fnv1a returns the known FNV-1a 32-bit vectors", () => {
  for (const [text, hash] of VECTORS) {
    assert.equal(codec.fnv1a(utf8.encode(text)), hash, text);
  }
});

/** A random string of UTF-16 code units, lone surrogates included. */
function randomUnits(rng: Rng, maxUnits: number): string {
  const n = rng.int(maxUnits + 1);
  const units: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (rng.int(6)) {
      case 0:
      case 1:
        units.push(rng.range(0, 0x7f));
        break;
      case 2:
        units.push(rng.range(0x80, 0x7ff));
        break;
      case 3:
        units.push(rng.range(0x800, 0xffff)); // may be a lone surrogate
        break;
      case 4: {
        const cp = rng.range(0x10000, 0x10ffff) - 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        break;
      }
      default:
        units.push(rng.pick([0xd800, 0xdbff, 0xdc00, 0xdfff, 0xfffd]));
    }
  }
  return String.fromCharCode(...units);
}

Deno.test("fnv1a hashes the TextEncoder UTF-8 bytes of any string, as codec.fnv1a does", () => {
  const rng = new Rng(0xf1);
  for (let i = 0; i < 5000; i++) {
    const text = randomUnits(rng, 40);
    assert.equal(fnv1a(text), codec.fnv1a(utf8.encode(text)), `case ${i}`);
  }
});

Deno.test("fnv1a treats a lone surrogate as U+FFFD and a pair as one code point", () => {
  assert.equal(fnv1a("\ud800"), fnv1a("\ufffd"));
  assert.equal(fnv1a("a\udc00b"), fnv1a("a\ufffdb"));
  assert.equal(fnv1a("\udc00\ud800"), fnv1a("\ufffd\ufffd"));
  assert.equal(fnv1a("x\ud83d"), fnv1a("x\ufffd"), "high surrogate at end");
  assert.equal(
    fnv1a("😀"),
    codec.fnv1a(new Uint8Array([0xf0, 0x9f, 0x98, 0x80])),
  );
});

Deno.test("codec.fnv1a hashes long inputs", () => {
  const bytes = new Rng(9).bytes(200_000);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  assert.equal(codec.fnv1a(bytes), h >>> 0);
});

Deno.test("statusName names every Status and falls back for unknown numbers", () => {
  for (const [name, value] of Object.entries(Status)) {
    assert.equal(statusName(value), name);
  }
  assert.equal(statusName(2), "NOT_FOUND");
  assert.equal(statusName(99), "STATUS_99");
  assert.equal(statusName(-1), "STATUS_-1");
});
