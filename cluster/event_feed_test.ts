import assert from "node:assert/strict";
import { EventFeed } from "./_event_feed.ts";

Deno.test("EventFeed hands events pushed after iterate() to every reader", async () => {
  const feed = new EventFeed<number>();
  const a = feed.iterate();
  const b = feed.iterate();
  feed.push(1);
  feed.push(2);
  feed.end();
  assert.deepEqual(await Array.fromAsync(a), [1, 2]);
  assert.deepEqual(await Array.fromAsync(b), [1, 2]);
});

Deno.test("EventFeed drops a lagging reader's oldest events and counts them", async () => {
  const feed = new EventFeed<number>(3);
  const reader = feed.iterate();
  for (let i = 0; i < 10; i++) feed.push(i);
  feed.end();
  assert.deepEqual(await Array.fromAsync(reader), [7, 8, 9]);
  assert.equal(feed.lost, 7);
});

Deno.test("EventFeed stops an iterator when its signal aborts", async () => {
  const feed = new EventFeed<number>();
  const controller = new AbortController();
  const reader = feed.iterate(controller.signal);
  const pending = reader.next();
  controller.abort();
  assert.deepEqual(await pending, { value: undefined, done: true });
  feed.push(1);
  assert.equal(feed.lost, 0);
});
