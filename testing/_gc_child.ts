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

/**
 * Runs `script` as {@link runWithGc} does, with `refs` (an array of
 * `WeakRef`s it fills) declared before it; then collects garbage and
 * counts the refs whose objects live on. V8 keeps the last error thrown,
 * so one more is thrown first: it cannot be one the script meant to drop.
 *
 * @param script The module's source (its imports may come anywhere).
 * @returns How many of `refs` live, of how many.
 */
export function countSurvivors(
  script: string,
): Promise<{ alive: number; of: number }> {
  return runWithGc(`
    const refs = [];
    ${script}
    try { throw new Error("the last error thrown, kept by V8"); } catch {}
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
      gc();
    }
    const alive = refs.filter((ref) => ref.deref() !== undefined).length;
    console.log(JSON.stringify({ alive, of: refs.length }));
  `);
}
