import assert from "node:assert/strict";
import { FakeTime } from "./fake_time.ts";
import { nextEvent, waitFor, within } from "./wait.ts";
import { realSetTimeout } from "./_real_time.ts";

Deno.test("waitFor resolves once the condition holds", async () => {
  let polls = 0;
  await waitFor(() => ++polls === 3);
  assert.equal(polls, 3);
  let ready = false;
  realSetTimeout(() => ready = true, 5);
  await waitFor(async () => await Promise.resolve(ready), { interval: 1 });
  assert.equal(ready, true);
});

Deno.test("waitFor fails naming what it waited for when the time runs out", async () => {
  await assert.rejects(
    waitFor(() => false, { timeout: 20, message: "the moon" }),
    /Timed out after 20 ms waiting for the moon/,
  );
  await assert.rejects(waitFor(() => false, 10), /after 10 ms/);
});

Deno.test("waitFor ends with the error a condition throws", async () => {
  await assert.rejects(
    waitFor(() => {
      throw new Error("broken check");
    }),
    /broken check/,
  );
});

Deno.test("waitFor and within keep real time while time is fake", async () => {
  using time = new FakeTime();
  let ready = false;
  realSetTimeout(() => ready = true, 5);
  await waitFor(() => ready, { timeout: 1000 });
  await assert.rejects(
    within(new Promise(() => {}), { timeout: 10, message: "answer" }),
    /No answer within 10 ms/,
  );
  assert.equal(time.elapsed, 0);
});

Deno.test("within passes the promise's value or rejection through", async () => {
  assert.equal(await within(Promise.resolve(7)), 7);
  await assert.rejects(within(Promise.reject(new Error("no"))), /no/);
});

Deno.test("nextEvent resolves with the next event of its type, or fails in time", async () => {
  const target = new EventTarget();
  const seen = nextEvent<CustomEvent<number>>(target, "tick");
  target.dispatchEvent(new Event("other"));
  target.dispatchEvent(new CustomEvent("tick", { detail: 1 }));
  assert.equal((await seen).detail, 1);
  await assert.rejects(
    nextEvent(target, "never", { timeout: 10 }),
    /No never event within 10 ms/,
  );
});
