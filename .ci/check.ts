/**
 * Every quality gate in one command (`deno task check`): formatting, lint,
 * type check, documentation lint, publish dry run, and generated files
 * being up to date. Exits non-zero when any gate fails, after running all.
 *
 * @module
 */

const deno = Deno.execPath();
const failures: string[] = [];

async function run(name: string, cmd: string, args: string[]): Promise<void> {
  console.log(
    `\n== ${name}: ${[cmd === deno ? "deno" : cmd, ...args].join(" ")}`,
  );
  const { code } = await new Deno.Command(cmd, {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failures.push(name);
}

async function sourceFiles(): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"],
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((f) =>
    f && !f.startsWith("wasm/assembly/") && !f.startsWith("node_modules/")
  );
}

await run("fmt", deno, ["fmt", "--check"]);
await run("lint", deno, ["lint"]);
await run("check", deno, ["check", ...await sourceFiles()]);
await run("doc", deno, ["doc", "--lint", "mod.ts"]);
await run("publish", deno, ["publish", "--dry-run", "--allow-dirty"]);
await run("build:wasm", deno, ["task", "build:wasm"]);
await run("gen:proto", deno, ["task", "gen:proto"]);
await run("build:browser", deno, ["task", "build:browser"]);
await run("generated files are current", "git", [
  "diff",
  "--exit-code",
  "--",
  "wasm/codec.generated.ts",
  "proto/gen/",
  "server/static/nanorpc.generated.js",
]);
const untracked = await new Deno.Command("git", {
  args: ["ls-files", "--others", "--exclude-standard", "proto/gen/"],
}).output();
if (untracked.stdout.length > 0) failures.push("untracked files in proto/gen");

if (failures.length > 0) {
  console.error(`\ncheck failed: ${failures.join(", ")}`);
  Deno.exit(1);
}
console.log("\ncheck passed: every gate is green");
