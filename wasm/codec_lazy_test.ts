// Importing the codec, or the package that uses it, compiles nothing: the
// module is instantiated by the first call. Checked in a fresh process
// whose WebAssembly entry points and base64 decoder count their calls.

import assert from "node:assert/strict";

/**
 * Runs `body` in a new Deno process after wrapping `atob`,
 * `WebAssembly.Module` and `WebAssembly.Instance` with counters that
 * `counts()` reports; returns what the process printed as JSON.
 */
async function inFreshProcess(body: string): Promise<unknown> {
  const prelude = `
    const calls = { atob: 0, Module: 0, Instance: 0 };
    const realAtob = globalThis.atob;
    globalThis.atob = (s) => (calls.atob++, realAtob(s));
    for (const name of ["Module", "Instance"]) {
      const Real = WebAssembly[name];
      WebAssembly[name] = new Proxy(Real, {
        construct(target, args) {
          calls[name]++;
          return Reflect.construct(target, args);
        },
      });
    }
    const counts = () => ({ ...calls });
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", prelude + body],
    cwd: new URL(".", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `child failed: ${err}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

const NONE = { atob: 0, Module: 0, Instance: 0 };
const ONCE = { atob: 1, Module: 1, Instance: 1 };

Deno.test("codec is not instantiated by importing wasm/codec.ts, only by its first call", async () => {
  const out = await inFreshProcess(`
    const { codec, Codec } = await import("./codec.ts");
    const afterImport = counts();
    new Codec();
    const afterConstruct = counts();
    codec.words; // the result table alone needs no module
    const afterWords = counts();
    codec.fnv1a(new Uint8Array([0x61]));
    codec.decodeRequests(new Uint8Array([2, 0x08, 7]), 1 << 20);
    console.log(JSON.stringify({
      afterImport, afterConstruct, afterWords, afterCalls: counts(),
    }));
  `);
  assert.deepEqual(out, {
    afterImport: NONE,
    afterConstruct: NONE,
    afterWords: NONE,
    afterCalls: ONCE,
  });
});

Deno.test("codec is not instantiated by importing the package for a constant", async () => {
  const out = await inFreshProcess(`
    const { Status } = await import("../mod.ts");
    console.log(JSON.stringify({ status: Status.OK, calls: counts() }));
  `);
  assert.deepEqual(out, { status: 1, calls: NONE });
});
