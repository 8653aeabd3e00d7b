import assert from "node:assert/strict";
import fc from "fast-check";
import type { BrokerMessage } from "../server/broker.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  MalformedEnvelopeError,
} from "./_envelope.ts";

function roundTrip(message: BrokerMessage): BrokerMessage {
  return decodeEnvelope(encodeEnvelope(message));
}

Deno.test("encodeEnvelope round-trips a plain publish with only path and data", () => {
  const message = { path: "/room/messages", data: new Uint8Array([1, 2, 3]) };
  assert.deepEqual(roundTrip(message), message);
});

Deno.test("encodeEnvelope round-trips every optional field", () => {
  const message = {
    path: "/room/ünïcødé 🎲",
    data: new Uint8Array([0, 255]),
    uids: ["alice", "", "bob.smith*>"],
    sessions: [0, 1, 300, Number.MAX_SAFE_INTEGER],
    origin: "node-1",
    kick: "signed in elsewhere",
    except: new Map([["node-2", [7, 0]], ["", []]]),
  };
  assert.deepEqual(roundTrip(message), message);
});

Deno.test("encodeEnvelope keeps empty lists apart from absent ones", () => {
  const message = {
    path: "",
    data: new Uint8Array(),
    uids: [],
    sessions: [],
  };
  const back = roundTrip(message);
  assert.deepEqual(back, message);
  assert.equal("origin" in back, false);
});

Deno.test("encodeEnvelope carries empty and 1 MiB data intact", () => {
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  assert.deepEqual(roundTrip({ path: "/p", data: big }).data, big);
  assert.equal(
    roundTrip({ path: "/p", data: new Uint8Array() }).data.length,
    0,
  );
});

Deno.test("encodeEnvelope handles paths long enough to grow its scratch buffer", () => {
  const path = "/".repeat(200_000) + "é".repeat(50_000);
  assert.equal(roundTrip({ path, data: new Uint8Array([9]) }).path, path);
  assert.equal(roundTrip({ path: "/a", data: new Uint8Array() }).path, "/a");
});

Deno.test("encodeEnvelope copies data, so the caller may reuse its buffer", () => {
  const data = new Uint8Array([1, 2, 3]);
  const bytes = encodeEnvelope({ path: "/p", data });
  data.fill(0);
  assert.deepEqual(decodeEnvelope(bytes).data, new Uint8Array([1, 2, 3]));
});

Deno.test("encodeEnvelope rejects session ids that are not non-negative safe integers", () => {
  for (const id of [-1, 1.5, 2 ** 53, NaN]) {
    assert.throws(
      () =>
        encodeEnvelope({ path: "/p", data: new Uint8Array(), sessions: [id] }),
      RangeError,
    );
  }
});

Deno.test("decodeEnvelope returns data as a view, not a copy", () => {
  const bytes = encodeEnvelope({ path: "/p", data: new Uint8Array([5, 6]) });
  const message = decodeEnvelope(bytes);
  assert.equal(message.data.buffer, bytes.buffer);
});

function malformed(bytes: number[], why: RegExp): void {
  assert.throws(
    () => decodeEnvelope(new Uint8Array(bytes)),
    (err: unknown) =>
      err instanceof MalformedEnvelopeError && why.test(err.message),
  );
}

Deno.test("decodeEnvelope rejects truncated, unknown and oversized headers", () => {
  const v = ENVELOPE_VERSION;
  malformed([], /too short/);
  malformed([v], /too short/);
  malformed([9, 0, 0], /version 9 is unknown/);
  malformed([v, 0x20, 0], /unknown flags/);
  malformed([v, 0], /path length is cut short/);
  malformed([v, 0, 0x80], /path length is cut short/);
  malformed([v, 0, ...Array(8).fill(0xff), 1], /longer than 8 bytes/);
  malformed(
    [v, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
    /over 2\^53/,
  );
  malformed([v, 0, 5, 0x61], /path runs past the end/);
  malformed([v, 0, 2, 0xc3, 0x28], /path is not valid UTF-8/);
  malformed([v, 1, 0, 100, 0], /uid count exceeds/);
  malformed([v, 2, 0, 1], /session count exceeds/);
  malformed([v, 2, 0, 1, 0x80], /session id is cut short/);
  malformed([v, 4, 0], /origin length is cut short/);
  malformed([v, 8, 0, 3, 0x61], /kick reason runs past the end/);
  malformed([v, 16, 0, 2, 0], /except node count exceeds/);
  malformed([v, 16, 0, 1, 0, 3], /except session count exceeds/);
  malformed([v, 16, 0, 1, 0, 1, 0x80], /except session id is cut short/);
});

Deno.test("decodeEnvelope throws nothing but MalformedEnvelopeError on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
      const bytes = raw.length >= 2
        ? Uint8Array.of(ENVELOPE_VERSION, raw[1] & 0x1f, ...raw.subarray(2))
        : raw;
      try {
        decodeEnvelope(bytes);
      } catch (err) {
        assert.ok(err instanceof MalformedEnvelopeError, String(err));
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("decodeEnvelope inverts encodeEnvelope for random messages", () => {
  const message = fc.record(
    {
      path: fc.string({ unit: "grapheme", maxLength: 40 }),
      data: fc.uint8Array({ maxLength: 100 }),
      uids: fc.array(fc.string({ unit: "binary", maxLength: 10 }), {
        maxLength: 4,
      }),
      sessions: fc.array(fc.maxSafeNat(), { maxLength: 4 }),
      origin: fc.string({ maxLength: 20 }),
      kick: fc.string({ maxLength: 20 }),
      except: fc.array(
        fc.tuple(
          fc.string({ maxLength: 10 }),
          fc.array(fc.maxSafeNat(), { maxLength: 3 }),
        ),
        { maxLength: 3 },
      ).map((pairs) => new Map(pairs)),
    },
    { requiredKeys: ["path", "data"] },
  );
  fc.assert(
    fc.property(message, (m) => {
      // Lone surrogates cannot survive UTF-8; compare what UTF-8 keeps.
      const wellFormed = (s: string) => s.toWellFormed();
      const expected = {
        ...m,
        path: wellFormed(m.path),
        ...(m.uids ? { uids: m.uids.map(wellFormed) } : {}),
      };
      assert.deepEqual(roundTrip(m), expected);
    }),
    { numRuns: 2000 },
  );
});
