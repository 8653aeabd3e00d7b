/**
 * `deno task interop`: our server against peers we did not write.
 *
 * Installs what the peers need (see `_setup.ts`), starts `deno task
 * server` on an ephemeral TCP port and a UNIX socket, runs the
 * Google-protobuf (Python) and nanopb (C) peers over both, reads the
 * server's reflection with Google's runtime over both, compiles the
 * seed's example service against proto/nanorpc.proto with protoc and reads
 * its `(nanorpc)` options back in Python, probes the Go reference module,
 * stops the server with SIGTERM and expects exit code 0. The Python peer
 * also runs every case over the server's WebSocket endpoint (`--http`,
 * frames cut at random points across binary messages) and its
 * single-session and resync cases over a pty pair whose other end the
 * server serves with `--serial`; the server's resync count must match.
 * Prints one line per peer and case and a closing `N passed, N failed`;
 * exits 1 if anything failed.
 *
 * @module
 */

import { exec, ROOT } from "./_exec.ts";
import { probeGoReference } from "./_go.ts";
import { type PtyPair, startPtyPair } from "../testing/pty.ts";
import { type RunningServer, startServer } from "./_server.ts";
import {
  compileSeed,
  NANOPB_PEER,
  PYTHON,
  PYTHON_GEN,
  SEED_GEN,
  setupNanopb,
  setupPython,
  setupVenv,
} from "./_setup.ts";

let passed = 0;
let failed = 0;
/** Names of the cases that passed. */
const passes: string[] = [];

function report(name: string, ok: boolean, why = ""): void {
  if (ok) passes.push(name);
  if (ok) passed++;
  else failed++;
  console.log(`${name}: ${ok ? "ok" : `FAIL ${why}`}`);
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** Runs one peer program and turns its "CASE: ok|FAIL …" lines into ours. */
async function runPeer(
  label: string,
  cmd: string[],
  env: Record<string, string> = {},
): Promise<void> {
  const got = await exec(cmd, { env, timeoutMs: 120_000 });
  let failures = 0;
  for (const line of got.stdout.split("\n")) {
    const match = line.match(/^([\w.-]+): (ok|FAIL ?(.*))$/);
    if (match) {
      report(`${label} ${match[1]}`, match[2] === "ok", match[3]);
      if (match[2] !== "ok") failures++;
    } else if (line.trim()) {
      console.log(`  ${line}`);
    }
  }
  if (!got.ok && failures === 0) {
    const tail = got.stderr.trim().split("\n").slice(-10).join("\n  ");
    report(`${label} peer`, false, `exited with ${got.code}:\n  ${tail}`);
  }
}

/**
 * A .proto written for the Go reference (`import "nanorpc.proto"`,
 * `option (nanorpc).request_path = "/api/data";`) compiles against ours
 * with protoc, and Google's runtime reads the option back as extension 5020.
 */
async function runSeed(): Promise<void> {
  const protoc = await compileSeed();
  report("python seed protoc-compile", protoc.ok, protoc.stderr.trim());
  if (!protoc.ok) return;
  await runPeer(
    "python seed",
    [PYTHON, `${ROOT}/interop/seed/check.py`],
    { PYTHONPATH: `${SEED_GEN}:${PYTHON_GEN}`, PYTHONDONTWRITEBYTECODE: "1" },
  );
}

type Transport = ["tcp", string, string] | ["unix", string];

function transports(server: RunningServer): Transport[] {
  return [
    ["tcp", server.host, String(server.port)],
    ["unix", server.unixPath],
  ];
}

async function settle(step: Promise<string>, name: string): Promise<boolean> {
  try {
    console.log(`setup ${name}: ${await step}`);
    return true;
  } catch (err) {
    report(`${name} setup`, false, (err as Error).message);
    return false;
  }
}

/**
 * The Python peer over the WebSocket endpoint (every case) and over the
 * serial line (one session: the single-session and resync cases).
 */
async function runLines(server: RunningServer, pty?: PtyPair): Promise<void> {
  const peer = `${ROOT}/interop/python/peer.py`;
  const env = { PYTHONPATH: PYTHON_GEN, PYTHONDONTWRITEBYTECODE: "1" };
  await runPeer("python ws", [PYTHON, peer, "ws", server.wsUrl], env);
  if (pty) {
    await runPeer("python serial", [PYTHON, peer, "serial", pty.b], env);
  }
}

/** Each passing resync case made the server count exactly one resync. */
function checkResyncs(server: RunningServer): void {
  const cases = passes.filter((n) => n.startsWith("python serial resync-"));
  const counted = Number(/(\d+) resyncs/.exec(server.log())?.[1] ?? -1);
  report(
    "server resyncs-counted",
    cases.length > 0 && counted === cases.length,
    `the server counted ${counted} resyncs for ${cases.length} resync cases`,
  );
}

async function main(): Promise<number> {
  const started = performance.now();
  const tmp = await Deno.makeTempDir({ prefix: "nanorpc-interop-" });
  const go = probeGoReference();
  // The server serves one end of the pair with --serial, the peer the other.
  const pty = await startPtyPair({ dir: tmp }).catch((err) => {
    report("pty pair", false, (err as Error).message);
    return undefined;
  });
  const server = startServer({ unixPath: `${tmp}/s.sock`, serialPath: pty?.a });
  server.catch(() => {}); // awaited below, after the setup lines
  const venv = setupVenv();
  const python = venv.then(setupPython);
  const nanopb = venv.then(setupNanopb);
  [python, nanopb].forEach((p) => p.catch(() => {})); // settled below
  const venvOk = await settle(venv, "virtualenv");
  const pythonOk = venvOk && await settle(python, "python");
  const nanopbOk = venvOk && await settle(nanopb, "nanopb");
  console.log(`setup took ${seconds(started)}`);

  let running: RunningServer;
  try {
    running = await server;
  } catch (err) {
    report("server start", false, (err as Error).message);
    console.log(await go);
    return 1;
  }
  const peers = performance.now();
  for (const [kind, ...where] of transports(running)) {
    if (pythonOk) {
      await runPeer(
        `python ${kind}`,
        [PYTHON, `${ROOT}/interop/python/peer.py`, kind, ...where],
        { PYTHONPATH: PYTHON_GEN, PYTHONDONTWRITEBYTECODE: "1" },
      );
    }
    if (nanopbOk) {
      await runPeer(`nanopb ${kind}`, [NANOPB_PEER, kind, ...where]);
    }
    if (pythonOk) {
      await runPeer(
        `python reflection ${kind}`,
        [PYTHON, `${ROOT}/interop/python/reflection.py`, kind, ...where],
        { PYTHONPATH: PYTHON_GEN, PYTHONDONTWRITEBYTECODE: "1" },
      );
    }
  }
  if (pythonOk) await runLines(running, pty);
  if (pythonOk) await runSeed();
  console.log(await go);
  console.log(`peers took ${seconds(peers)}`);

  const code = await running.stop();
  report("server sigterm", code === 0, `exit code ${code}`);
  if (pythonOk && pty) checkResyncs(running);
  await pty?.stop();
  if (failed > 0) {
    const log = running.log().split("\n").slice(-60).join("\n  ");
    console.log(`server output (last 60 lines):\n  ${log}`);
  }
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  console.log(`total ${seconds(started)}`);
  return failed > 0 ? 1 : 0;
}

const code = await main();
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(code);
