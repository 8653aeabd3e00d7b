import assert from "node:assert/strict";
import { Presence } from "./_presence.ts";

const beat = (node: string, requests: number[] = [], leaving = false) => ({
  node,
  leaving,
  requests,
  topics: [],
});

Deno.test("Presence ignores its own heartbeats and forgets nodes that leave", () => {
  const p = new Presence("me", 1000, 0);
  assert.equal(p.heard(beat("me"), 0), "ignored");
  assert.equal(p.heard(beat("a"), 0), "joined");
  assert.equal(p.heard(beat("a"), 1), "known");
  assert.equal(p.heard(beat("a", [], true), 2), "left");
  assert.equal(p.size, 0);
});

Deno.test("Presence presumes a node gone only after a full timeout with the link up", () => {
  const p = new Presence("me", 1000, 0);
  p.heard(beat("a"), 0);
  p.heard(beat("b"), 0);
  assert.deepEqual(p.expire(900), []);
  p.heard(beat("b"), 900);
  assert.deepEqual(p.expire(1500), ["a"]);
  p.linkUp(5000); // an outage of our own link says nothing about b
  assert.deepEqual(p.expire(5500), []);
  assert.deepEqual(p.expire(6001), ["b"]);
});

Deno.test("Presence waits for a forwarded call as long as the longest route time limit of the nodes serving it, plus a second", () => {
  const p = new Presence("me", 1000, 0);
  p.heard({ ...beat("a", [7]), timeouts: [7, 3000] }, 0);
  p.heard({ ...beat("b", [7]), timeouts: [7, 0, 9, 60_000] }, 0);
  p.heard({ ...beat("c", []), timeouts: [7, 90_000] }, 0);
  assert.equal(p.timeout("request", 7, 500), 4000);
  assert.equal(p.timeout("request", 8, 500), 500, "no node sets one");
  assert.equal(p.timeout("subscribe", 7, 500), 500, "no topic at 7");
});

Deno.test("Presence picks the same node for a key among those serving the path", () => {
  const p = new Presence("me", 1000, 0);
  for (const n of ["a", "b", "c"]) p.heard(beat(n, [42]), 0);
  p.heard(beat("d", [7]), 0);
  const picks = new Map<string, string>();
  for (let i = 0; i < 50; i++) {
    picks.set(`k${i}`, p.pick("request", 42, `k${i}`)!);
  }
  assert.ok(![...picks.values()].includes("d"), "d does not serve the path");
  assert.equal(new Set(picks.values()).size, 3, "keys spread over a, b, c");
  for (const [key, node] of picks) {
    assert.equal(p.pick("request", 42, key), node);
  }
  p.forget("a");
  for (const [key, node] of picks) {
    if (node !== "a") {
      assert.equal(p.pick("request", 42, key), node, "only a's keys move");
    }
  }
  assert.equal(p.pick("subscribe", 42, "k1"), undefined);
});

Deno.test("Presence remembers which nodes read lists of held subscriptions", () => {
  const p = new Presence("me", 1000, 0);
  p.heard({ ...beat("new"), readsHeld: true }, 0);
  p.heard(beat("old"), 0);
  assert.equal(p.readsHeld("new"), true);
  assert.equal(p.readsHeld("old"), false);
  assert.equal(p.readsHeld("unknown"), false);
  p.heard(beat("new"), 1); // a downgrade is believed too
  assert.equal(p.readsHeld("new"), false);
});

Deno.test("Presence lets broadcasts travel in answers only while every node known reads them", () => {
  const p = new Presence("me", 1000, 0);
  p.heard({ ...beat("a"), readsBroadcasts: true }, 0);
  p.heard({ ...beat("b"), readsBroadcasts: true }, 0);
  assert.equal(p.readsBroadcasts("a"), true);
  assert.equal(p.readsBroadcasts("unknown"), false);
  p.heard(beat("old"), 0); // would drop envelopes that list members to skip
  assert.equal(p.readsBroadcasts("a"), false);
  p.heard({ ...beat("old"), leaving: true }, 1);
  assert.equal(p.readsBroadcasts("a"), true);
  p.heard(beat("b"), 2); // a downgrade is believed too
  assert.equal(p.readsBroadcasts("a"), false);
  p.forget("b");
  assert.equal(p.readsBroadcasts("a"), true);
});
