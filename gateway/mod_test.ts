import assert from "node:assert/strict";

/** The specifiers of every module `entry` loads, per `deno info`. */
async function moduleGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0, `deno info ${entry} failed`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier);
}

Deno.test("gateway entry point loads connect-es and the main and server entry points do not", async () => {
  const connect = (specifiers: string[]) =>
    specifiers.filter((s) =>
      s.includes("@connectrpc") || s.includes("/gateway/")
    );
  assert.notDeepEqual(connect(await moduleGraph("./mod.ts")), []);
  assert.deepEqual(connect(await moduleGraph("../mod.ts")), []);
  assert.deepEqual(connect(await moduleGraph("../server/mod.ts")), []);
  assert.deepEqual(connect(await moduleGraph("../server/main.ts")), []);
});
