/**
 * Reads a `.cpuprofile` (from `deno run --cpu-prof`, e.g. through
 * `deno task bench:load --cpu-prof DIR`) and lists the functions with the
 * most self time, and the most total time, so a benchmark's "where does
 * the time go" has an answer in numbers.
 *
 * ```sh
 * deno run -A bench/profile.ts /tmp/prof/CPU.*.cpuprofile [--top 30]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { markdownTable } from "./_harness.ts";

interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
  };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self and total time of one function, in percent of all samples. */
export interface FunctionTime {
  name: string;
  self: number;
  total: number;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(work\/main|ext|node_modules)\//, "$1/")
    .replace(/^file:\/\//, "");
  const name = functionName || "(anonymous)";
  return file ? `${name} ${file}:${lineNumber + 1}` : name;
}

/** Self and total time per function of `profile`, by self time. */
export function functionTimes(profile: CpuProfile): FunctionTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfTime = new Map<number, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
    all += dt;
  });
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const name = label(byId.get(id)!);
    self.set(name, (self.get(name) ?? 0) + t);
    // Each function on the stack once, however deep it recurses.
    const seen = new Set<string>();
    for (
      let at: number | undefined = id;
      at !== undefined;
      at = parent.get(at)
    ) {
      const n = label(byId.get(at)!);
      if (seen.has(n)) continue;
      seen.add(n);
      total.set(n, (total.get(n) ?? 0) + t);
    }
  }
  return [...total.keys()].map((name) => ({
    name,
    self: (self.get(name) ?? 0) / all * 100,
    total: (total.get(name) ?? 0) / all * 100,
  })).sort((a, b) => b.self - a.self);
}

async function main(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { top: { type: "string", default: "30" } },
  });
  const top = Number(values.top);
  for (const path of positionals) {
    const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
    const times = functionTimes(profile);
    const seconds = profile.timeDeltas.reduce((a, b) => a + b, 0) / 1e6;
    console.log(`${path}: ${seconds.toFixed(1)} s sampled\n`);
    console.log("by self time:\n");
    console.log(markdownTable(
      ["function", "self %", "total %"],
      times.slice(0, top).map((t) => [
        t.name,
        t.self.toFixed(1),
        t.total.toFixed(1),
      ]),
    ));
    console.log("\nby total time:\n");
    console.log(markdownTable(
      ["function", "self %", "total %"],
      [...times].sort((a, b) => b.total - a.total).slice(0, top).map((t) => [
        t.name,
        t.self.toFixed(1),
        t.total.toFixed(1),
      ]),
    ));
    console.log();
  }
}

if (import.meta.main) await main(Deno.args);
