// The Deno-only dialer outside Deno: a browser bundle made without the
// build's swap of this file must not throw where it asks about permissions.

import assert from "node:assert/strict";
import { isPermissionError } from "./_dial_deno.ts";

Deno.test("isPermissionError answers false where there is no Deno, instead of throwing a ReferenceError", () => {
  const notCapable = new Deno.errors.NotCapable("no net");
  assert.equal(isPermissionError(notCapable), true);
  const deno = Object.getOwnPropertyDescriptor(globalThis, "Deno")!;
  delete (globalThis as { Deno?: unknown }).Deno;
  try {
    assert.equal(isPermissionError(new Error("refused")), false);
    assert.equal(isPermissionError(notCapable), false);
  } finally {
    Object.defineProperty(globalThis, "Deno", deno);
  }
});
