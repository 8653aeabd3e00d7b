/**
 * `deno task stress`: abuses `deno task server` (run as a child process on
 * a loopback port) and checks that it keeps its promises (the reliability bars in the
 * README). Linux only: the server's memory and open descriptors are read
 * from /proc.
 *
 * ```sh
 * deno task stress                  # everything below, full size
 * deno task stress --smoke          # everything, small (CI, < 10 s each)
 * deno task stress --fuzz --frames 2000000 --connections 64
 * deno task stress --slow-consumer  # or --churn, --oversize, --restart
 * ```
 *
 * - fuzz: a million random and mutated frames over many connections while
 *   a well-behaved client checks every answer it gets.
 * - slow consumer: a subscriber stops reading while 100 MB is published:
 *   the server's RSS grows < 48 MB and the other subscribers get it all.
 * - churn: 10,000 connect/join/subscribe/disconnect cycles; 3,000 of them
 *   grow RSS < 32 MB; no session is left behind.
 * - oversize: 200 connections each claiming a 1 GiB (then 4 GiB) frame
 *   grow RSS < 32 MB and are all closed.
 * - restart: the server is killed (SIGKILL, or SIGTERM) and restarted
 *   under load from the client library: every client reconnects within
 *   its backoff, the subscription delivers again, no request hangs.
 *
 * The server answers a ping after each. Prints one PASS/FAIL line per
 * check and exits 1 if any failed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { churn, oversize, slowConsumer } from "./_stress_bars.ts";
import { restart } from "./_stress_restart.ts";
import { type Check, mb, PeakSampler, ServerChild } from "./_stress_child.ts";
import { GoodClient } from "./_stress_wire.ts";
import {
  buildPools,
  type FramePools,
  type Kind,
  KINDS,
  Rng,
} from "./_stress_frames.ts";

const MiB = 1024 * 1024;

interface FuzzOptions {
  frames: number;
  connections: number;
  seed: number;
}

/** Frames and connections thrown so far, by kind. */
interface Thrown {
  frames: number;
  bytes: number;
  connections: number;
  byKind: Map<Kind, number>;
}

/**
 * One hostile connection: a burst of survivable frames, usually ended by a
 * fatal one, written in a few pieces; then half-close and read to the end.
 */
async function hostile(
  addr: { hostname: string; port: number },
  pools: FramePools,
  rng: Rng,
  thrown: Thrown,
): Promise<void> {
  const count = 1 + rng.below(64);
  const frames = [];
  for (let i = 0; i < count; i++) frames.push(rng.pick(pools.survivable));
  if (rng.chance(0.85)) frames.push(rng.pick(pools.fatal));
  let size = 0;
  for (const f of frames) size += f.bytes.length;
  const batch = new Uint8Array(size);
  let at = 0;
  for (const f of frames) {
    batch.set(f.bytes, at);
    at += f.bytes.length;
    thrown.byKind.set(f.kind, (thrown.byKind.get(f.kind) ?? 0) + 1);
  }
  thrown.frames += frames.length;
  thrown.bytes += size;
  thrown.connections++;

  const conn = await Deno.connect(addr);
  const draining = (async () => {
    const sink = new Uint8Array(65536);
    try {
      while (await conn.read(sink) !== null) { /* discard */ }
    } catch {
      // Reset by the server after a fatal frame.
    }
  })();
  try {
    const cuts = [0, rng.below(size + 1), rng.below(size + 1), size]
      .sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      let piece = batch.subarray(cuts[i], cuts[i + 1]);
      while (piece.length > 0) piece = piece.subarray(await conn.write(piece));
    }
    await conn.closeWrite();
  } catch {
    // Closed by the server mid-write: it saw a fatal frame.
  }
  await draining;
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Keeps a well-behaved client busy until `done` and counts its answers. */
async function behave(good: GoodClient, done: { now: boolean }) {
  let i = 0;
  while (!done.now) {
    i++;
    await good.ping();
    await good.echo(i % 7 === 0 ? 4096 : i % 64);
    if (i % 10 === 0) await good.chat();
  }
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

async function fuzz(options: FuzzOptions): Promise<Check[]> {
  console.log(
    `\n== fuzz: ${options.frames} frames over ${options.connections} concurrent connections (seed ${options.seed})`,
  );
  const built = performance.now();
  const pools = buildPools(options.seed, 8192);
  console.log(
    `pools: ${pools.survivable.length} survivable, ${pools.fatal.length} fatal frames in ${
      (performance.now() - built).toFixed(0)
    } ms`,
  );
  const server = await ServerChild.start();
  const good = await GoodClient.connect(server.addr);
  for (let i = 0; i < 50; i++) await good.echo(i);
  const baseRss = server.rss();
  const baseFds = server.fds();
  const rss = new PeakSampler(() => server.rss());
  const thrown: Thrown = {
    frames: 0,
    bytes: 0,
    connections: 0,
    byKind: new Map(),
  };
  const done = { now: false };
  const behaving = behave(good, done);
  const started = performance.now();
  const progress = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    console.log(
      `  ${
        s.toFixed(0)
      } s: ${thrown.frames} frames, ${thrown.connections} connections, ` +
        `RSS ${
          mb(server.rss())
        }, good client ${good.calls} answers (${good.wrong} wrong)`,
    );
  }, 5000);

  const rng = new Rng(options.seed);
  let midRss = NaN;
  const worker = async (n: number) => {
    const local = new Rng(rng.next() ^ n);
    while (thrown.frames < options.frames && server.alive) {
      await hostile(server.addr, pools, local, thrown);
      if (Number.isNaN(midRss) && thrown.frames >= options.frames / 2) {
        midRss = server.rss();
      }
    }
  };
  await Promise.all(
    Array.from({ length: options.connections }, (_, n) => worker(n)),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(progress);
  done.now = true;
  await behaving;

  const alive = server.alive && await good.ping() && await good.echo(1000);
  const drained = await waitUntil(() => server.fds() <= baseFds, 10_000);
  const endFds = server.fds();
  const peak = rss.stop();
  const endRss = server.rss();
  good.close();
  const summary = await server.stop();

  console.log(
    `threw ${thrown.frames} frames (${
      mb(thrown.bytes)
    }) over ${thrown.connections} connections in ${seconds.toFixed(1)} s (${
      (thrown.frames / seconds).toFixed(0)
    } frames/s)`,
  );
  console.log(
    `  by kind: ${
      KINDS.map((k) => `${k} ${thrown.byKind.get(k) ?? 0}`).join(", ")
    }`,
  );
  console.log(
    `well-behaved client: ${good.calls} answers checked, ${good.wrong} wrong, ` +
      `${good.updates} own updates, slowest ${good.maxLatencyMs.toFixed(0)} ms`,
  );
  for (const p of good.problems) console.log(`  wrong: ${p}`);
  console.log(
    `server RSS: ${mb(baseRss)} before, ${mb(midRss)} half-way, ${
      mb(peak)
    } peak, ${mb(endRss)} after; ` +
      `open fds ${baseFds} before, ${endFds} after; ${server.stderrLines} error lines logged`,
  );
  console.log(
    `server summary: ${summary?.line ?? "(none: it did not exit cleanly)"}`,
  );
  return [
    {
      name: `fuzz: ${thrown.frames} hostile frames thrown`,
      pass: thrown.frames >= options.frames,
    },
    {
      name: "fuzz: the well-behaved client never got a wrong answer",
      pass: good.wrong === 0 && good.calls > 0,
    },
    { name: "fuzz: the server stayed up and answers after", pass: alive },
    {
      name: "fuzz: no session left once the hostile connections closed",
      pass: drained,
    },
    {
      // V8's heap settles near +90 MB after about a million frames and
      // stays there (6 million measured); a per-frame or per-connection
      // leak, or one allocation of a claimed size, would blow this bound.
      name: `fuzz: server RSS stayed bounded: +${
        mb(peak - baseRss)
      } at peak (< 128 MB)`,
      pass: peak - baseRss < 128 * MiB,
    },
    {
      name: "fuzz: the server shut down cleanly and counted malformed closes",
      pass: summary !== undefined && summary.malformed > 0 &&
        summary.sessions >= thrown.connections + 1,
    },
  ];
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      frames: { type: "string" },
      connections: { type: "string" },
      seed: { type: "string" },
      smoke: { type: "boolean", default: false },
      fuzz: { type: "boolean", default: false },
      "slow-consumer": { type: "boolean", default: false },
      churn: { type: "boolean", default: false },
      oversize: { type: "boolean", default: false },
      restart: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task stress [--smoke] [--fuzz] [--slow-consumer] [--churn] [--oversize] [--restart]\n" +
        "                        [--frames N] [--connections N] [--seed N]",
    );
    return 0;
  }
  if (Deno.build.os !== "linux") {
    console.error("deno task stress reads /proc: it runs on Linux only");
    return 2;
  }
  const smoke = values.smoke;
  const picked = ["fuzz", "slow-consumer", "churn", "oversize", "restart"]
    .filter((name) => values[name as "fuzz"]);
  const run = (name: string) => picked.length === 0 || picked.includes(name);
  const checks: Check[] = [];
  if (run("fuzz")) {
    checks.push(
      ...await fuzz({
        frames: Number(values.frames ?? (smoke ? 20_000 : 1_000_000)),
        connections: Number(values.connections ?? (smoke ? 8 : 32)),
        seed: Number(values.seed ?? Date.now() % 2 ** 31),
      }),
    );
  }
  if (run("slow-consumer")) {
    checks.push(...await slowConsumer(smoke ? 8 * MiB : 100 * MiB));
  }
  if (run("churn")) checks.push(...await churn(smoke ? 1000 : 10_000));
  if (run("oversize")) checks.push(...await oversize(smoke ? 50 : 200));
  if (run("restart")) {
    checks.push(...await restart(smoke ? 2 : 6, smoke ? 4 : 16));
  }

  console.log("\n== results");
  for (const c of checks) console.log(`${c.pass ? "PASS" : "FAIL"}  ${c.name}`);
  const failed = checks.filter((c) => !c.pass).length;
  console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
