import assert from "node:assert/strict";

async function moduleGraph(entry: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0, `deno info ${entry} failed`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("cluster entry point loads nats.js and the main entry point does not", async () => {
  assert.match(await moduleGraph("./mod.ts"), /@nats-io\/transport-node/);
  assert.doesNotMatch(await moduleGraph("../mod.ts"), /@nats-io/);
});
