import assert from "node:assert/strict";
import { peakRssBytes, resetPeakRss, rssBytes, RssWindow } from "./_rss.ts";

Deno.test("rssBytes reads VmRSS of a live process and NaN of none", () => {
  const rss = rssBytes(Deno.pid);
  assert.ok(rss > 1 << 20, `RSS ${rss} B`);
  assert.ok(peakRssBytes(Deno.pid) >= rss);
  assert.ok(Number.isNaN(rssBytes(undefined)));
  assert.ok(Number.isNaN(rssBytes(2 ** 30)));
});

Deno.test("resetPeakRss is refused for a process that does not exist", () => {
  assert.equal(resetPeakRss(undefined), false);
  assert.equal(resetPeakRss(2 ** 30), false);
});

Deno.test("RssWindow sees memory touched during the window", () => {
  const window = new RssWindow(Deno.pid);
  const before = rssBytes(Deno.pid);
  const block = new Uint8Array(64 << 20).fill(1);
  const peak = window.end();
  assert.equal(block[block.length - 1], 1);
  assert.ok(
    peak >= before + (48 << 20),
    `peak ${peak} B, RSS at the start ${before} B`,
  );
});

Deno.test("RssWindow of an unknown process ends with NaN", () => {
  assert.ok(Number.isNaN(new RssWindow(undefined).end()));
});
