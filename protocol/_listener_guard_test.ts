import assert from "node:assert/strict";
import { ListenerGuard } from "./_listener_guard.ts";

/** An EventTarget that adds listeners through a guard, as Server does. */
class Guarded extends EventTarget {
  errors: string[] = [];
  #guard = new ListenerGuard((err, type) =>
    this.errors.push(`${type}: ${(err as Error).message}`)
  );
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(
      type,
      this.#guard.wrap(type, listener, options),
      options,
    );
  }
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(
      type,
      this.#guard.unwrap(type, listener, options),
      options,
    );
  }
}

Deno.test("ListenerGuard reports a throwing listener and the next listeners still run", () => {
  const target = new Guarded();
  const ran: string[] = [];
  target.addEventListener("x", () => {
    throw new Error("boom");
  });
  target.addEventListener("x", { handleEvent: () => ran.push("object") });
  target.addEventListener("x", function (this: unknown) {
    ran.push(this === target ? "this is the target" : "wrong this");
  });
  target.dispatchEvent(new Event("x"));
  assert.deepEqual(target.errors, ["x: boom"]);
  assert.deepEqual(ran, ["object", "this is the target"]);
});

Deno.test("ListenerGuard reports a listener's rejected promise", async () => {
  const target = new Guarded();
  target.addEventListener("x", () => Promise.reject(new Error("later")));
  target.dispatchEvent(new Event("x"));
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(target.errors, ["x: later"]);
});

Deno.test("ListenerGuard keeps add, remove, once and capture working as EventTarget does", () => {
  const target = new Guarded();
  let calls = 0;
  const listener = () => calls++;
  target.addEventListener("x", listener);
  target.addEventListener("x", listener); // A duplicate is ignored.
  target.addEventListener("x", listener, { capture: true }); // Another one.
  target.dispatchEvent(new Event("x"));
  assert.equal(calls, 2);
  target.removeEventListener("x", listener);
  target.dispatchEvent(new Event("x"));
  assert.equal(calls, 3, "the capture listener is left");
  target.removeEventListener("x", listener, true);
  target.dispatchEvent(new Event("x"));
  assert.equal(calls, 3);
  target.addEventListener("y", listener, { once: true });
  target.dispatchEvent(new Event("y"));
  target.dispatchEvent(new Event("y"));
  assert.equal(calls, 4);
  target.addEventListener("y", listener); // Again after once fired.
  target.dispatchEvent(new Event("y"));
  assert.equal(calls, 5);
  target.removeEventListener("y", null);
  target.removeEventListener("never", listener);
});
