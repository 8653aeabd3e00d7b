// Runs a script in a child Deno with `gc()` exposed and returns what it
// printed last, parsed as JSON: for tests that compare the heap or the
// ArrayBuffers a process holds before and after, which in-process tests
// cannot (the test runner's own allocations, no `gc()`).

import assert from "node:assert/strict";

/**
 * Runs `script` with `deno eval --v8-flags=--expose-gc`.
 *
 * @param script The module's source; its last stdout line is JSON.
 * @returns That line, parsed.
 */
export async function runWithGc<T>(script: string): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const text = new TextDecoder().decode(out.stdout);
  return JSON.parse(text.trim().split("\n").at(-1)!) as T;
}
