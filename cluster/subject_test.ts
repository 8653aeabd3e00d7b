import assert from "node:assert/strict";
import fc from "fast-check";
import {
  channelSubject,
  checkPrefix,
  escapeToken,
  MAX_TOKEN,
} from "./_subject.ts";

/** What nats-server accepts as a literal subject to publish on. */
function validLiteralSubject(subject: string): boolean {
  return subject.split(".").every((t) =>
    /^[\x21-\x7e]+$/.test(t) && !t.includes("*") && !t.includes(">")
  );
}

Deno.test("channelSubject keeps readable paths readable", () => {
  assert.equal(
    channelSubject("nanorpc", "topic:/room/messages"),
    "nanorpc.topic./room/messages",
  );
  assert.equal(channelSubject("nanorpc", "uid:alice"), "nanorpc.uid.alice");
  assert.equal(channelSubject("a.b", "group:x:y"), "a.b.group.x:y");
});

Deno.test("channelSubject escapes dots, wildcards, whitespace, percent and non-ASCII", () => {
  assert.equal(
    channelSubject("n", "group:a.b *>%$ é\t"),
    "n.group.a%2Eb%20%2A%3E%25%24%20%C3%A9%09",
  );
  assert.equal(channelSubject("n", "topic:"), "n.topic.%");
  assert.equal(channelSubject("n", ":"), "n.%.%");
  assert.equal(channelSubject("n", "nocolon"), "n.nocolon");
  assert.equal(channelSubject("n", ""), "n.%");
});

Deno.test("channelSubject hashes names too long for a subject token", () => {
  const long = "g".repeat(MAX_TOKEN + 1);
  const subject = channelSubject("n", `group:${long}`);
  assert.match(subject, /^n\.group\.%H[0-9a-f]{64}$/);
  assert.notEqual(subject, channelSubject("n", `group:${long}x`));
  assert.equal(escapeToken("g".repeat(MAX_TOKEN)), "g".repeat(MAX_TOKEN));
  assert.match(escapeToken(".".repeat(100)), /^%H/);
});

Deno.test("channelSubject yields a valid literal subject for any channel", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), (channel) => {
      const subject = channelSubject("nanorpc", channel);
      assert.ok(validLiteralSubject(subject), subject);
      assert.ok(subject.length <= "nanorpc".length + 2 * (MAX_TOKEN + 2));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("channelSubject never maps two channels to one subject", () => {
  const tricky = [
    "",
    ":",
    "::",
    "a",
    "a:",
    ":a",
    "a:b",
    "a.b",
    "a:b.c",
    "a.b:c",
    "%",
    "%25",
    "%2E",
    ".",
    "%H",
    "topic:%",
    "topic:",
    "topic:%25",
    "topic: ",
  ];
  const seen = new Map<string, string>();
  for (const channel of tricky) {
    const subject = channelSubject("p", channel);
    assert.equal(
      seen.get(subject),
      undefined,
      `${channel} vs ${seen.get(subject)}`,
    );
    seen.set(subject, channel);
  }
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      (a, b) => {
        // Lone surrogates are not text; UTF-8 folds them to U+FFFD.
        fc.pre(a.toWellFormed() !== b.toWellFormed());
        assert.notEqual(channelSubject("p", a), channelSubject("p", b));
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("checkPrefix accepts literal subjects and rejects the rest", () => {
  checkPrefix("nanorpc");
  checkPrefix("prod.eu-1.nanorpc");
  for (const bad of ["", ".", "a.", ".a", "a..b", "a b", "a.*", ">", "é"]) {
    assert.throws(() => checkPrefix(bad), TypeError, bad);
  }
});
