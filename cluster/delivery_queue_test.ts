import assert from "node:assert/strict";
import { waitFor } from "../testing/wait.ts";
import { DeliveryQueue } from "./_delivery_queue.ts";

Deno.test("DeliveryQueue delivers in order once the pushing task ends", async () => {
  const got: number[] = [];
  const queue = new DeliveryQueue<number>({
    maxCount: 100,
    maxBytes: 1000,
    deliver: (n) => got.push(n),
  });
  for (let i = 0; i < 50; i++) assert.ok(queue.push(i, 1));
  assert.equal(got.length, 0);
  assert.equal(queue.count, 50);
  await waitFor(() => got.length === 50, {
    timeout: 5000,
    message: "50 deliveries",
  });
  assert.deepEqual(got, [...Array(50).keys()]);
  assert.equal(queue.count, 0);
  assert.equal(queue.bytes, 0);
  queue.close();
});

Deno.test("DeliveryQueue refuses items past its count or byte bound until it drains", async () => {
  let delivered = 0;
  const queue = new DeliveryQueue<string>({
    maxCount: 3,
    maxBytes: 100,
    deliver: () => delivered++,
  });
  assert.ok(queue.push("a", 10));
  assert.ok(queue.push("b", 10));
  assert.ok(queue.push("c", 10));
  assert.equal(queue.push("d", 1), false, "count bound");
  await waitFor(() => delivered === 3, { timeout: 5000, message: "the drain" });
  assert.ok(queue.push("e", 90));
  assert.equal(queue.push("f", 11), false, "byte bound");
  assert.ok(queue.push("g", 10));
  await waitFor(() => delivered === 5, {
    timeout: 5000,
    message: "the second drain",
  });
  queue.close();
});

Deno.test("DeliveryQueue yields to other macrotasks during a long drain", async () => {
  let delivered = 0;
  const queue = new DeliveryQueue<number>({
    maxCount: 10_000,
    maxBytes: 10_000,
    budgetMs: 2,
    deliver: () => {
      const until = performance.now() + 0.05;
      while (performance.now() < until) { /* a slow subscriber */ }
      delivered++;
    },
  });
  for (let i = 0; i < 1000; i++) queue.push(i, 1);
  const seenByTimer = await new Promise<number>((resolve) =>
    setTimeout(() => resolve(delivered), 0)
  );
  assert.ok(seenByTimer < 1000, `a timer ran only after all ${seenByTimer}`);
  await waitFor(() => delivered === 1000, {
    timeout: 10_000,
    message: "every delivery",
  });
  queue.close();
});

Deno.test("DeliveryQueue.close discards what waits and refuses later items", () => {
  const queue = new DeliveryQueue<number>({
    maxCount: 10,
    maxBytes: 10,
    deliver: () => assert.fail("nothing is delivered after close"),
  });
  queue.push(1, 1);
  queue.push(2, 1);
  assert.equal(queue.close(), 2);
  assert.equal(queue.close(), 0);
  assert.equal(queue.push(3, 1), false);
  assert.equal(queue.count, 0);
});

Deno.test("DeliveryQueue keeps draining after a consumer throws", async () => {
  const got: number[] = [];
  const queue = new DeliveryQueue<number>({
    maxCount: 10,
    maxBytes: 10,
    deliver: (n) => {
      got.push(n);
      if (n === 1) throw new Error("consumer bug");
    },
  });
  const errors: unknown[] = [];
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    errors.push(e.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    queue.push(1, 1);
    queue.push(2, 1);
    await waitFor(() => got.length === 2, {
      timeout: 5000,
      message: "the item after the throw",
    });
    assert.equal(errors.length, 1);
  } finally {
    globalThis.removeEventListener("error", onError);
    queue.close();
  }
});
