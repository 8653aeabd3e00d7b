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

/**
 * Types of npm packages that our public signatures use on purpose: their
 * documentation is the package's own, and `deno doc` cannot see it as
 * exported from here. Any other documentation lint error fails the gate.
 */
const EXTERNAL_TYPES = new Set([
  // @bufbuild/protobuf: schemas, descriptors and message shapes
  "DescFile",
  "DescMessage",
  "DescMethod",
  "DescService",
  "FileDescriptorSet",
  "MessageInitShape",
  "MessageShape",
  // @opentelemetry/api
  "Tracer",
  // @connectrpc/connect (the gateway's upstream transport and errors)
  "Code",
  "ConnectError",
  "Transport",
]);

/** `deno doc --lint` over every code entry of deno.json, together. */
async function docLint(): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  const entries = (Object.values(config.exports) as string[])
    .filter((path) => !path.includes("/gen/"));
  console.log(`\n== doc: deno doc --lint ${entries.join(" ")}`);
  const out = await new Deno.Command(deno, {
    args: ["doc", "--lint", ...entries],
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stderr) +
    new TextDecoder().decode(out.stdout);
  const errors = text.split("\n").filter((l) => l.startsWith("error["));
  const real = errors.filter((line) => {
    const ref = /^error\[private-type-ref\].* references private type '(\w+)'/
      .exec(line);
    return !(ref && EXTERNAL_TYPES.has(ref[1]));
  });
  for (const line of real) console.error(line);
  console.log(
    `${
      errors.length - real.length
    } references to npm packages' types allowed, ${real.length} errors`,
  );
  if (real.length > 0 || (errors.length === 0 && out.code !== 0)) {
    failures.push("doc");
  }
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
await docLint();
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
