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

Deno.test("cluster entry point loads nats.js and the main entry point does not", async () => {
  const nats = (specifiers: string[]) =>
    specifiers.filter((s) => s.includes("@nats-io"));
  assert.notDeepEqual(nats(await moduleGraph("./mod.ts")), []);
  assert.deepEqual(nats(await moduleGraph("../mod.ts")), []);
});
