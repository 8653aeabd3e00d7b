// StopSignals in a real child process receiving real signals: a second
// SIGTERM or SIGINT stops at once and says so, a SIGUSR2 kills nothing,
// and a supervisor's SIGTERM after a drain still stops gracefully.

import assert from "node:assert/strict";
import { waitFor, within } from "../testing/mod.ts";

const here = (path: string) => JSON.stringify(new URL(path, import.meta.url));

/**
 * The child: a server whose `beforeShutdown` hook runs until its stdin
 * closes, so the test decides how long a graceful shutdown takes. With
 * `gated`, it starts the server only once a line comes on stdin.
 */
const child = (gated: boolean) => `
import { Server } from ${here("./server.ts")};
import { StopSignals } from ${here("./_stop_signals.ts")};
using signals = new StopSignals({ drainWindow: 50 });
const stdin = Deno.stdin.readable.getReader();
const server = new Server({ logLevel: "error", shutdownTimeout: 60_000 });
server.register({
  async beforeShutdown() {
    console.log("beforeShutdown running");
    while (!(await stdin.read()).done);
  },
}, { name: "slow" });
console.log("starting");
if (${gated}) await stdin.read();
await server.listen({ hostname: "127.0.0.1", port: 0 });
signals.serve(server);
console.log("listening");
await signals.stopped;
await server.shutdown();
console.log("shut down cleanly");
`;

/** Runs the child; `line(text)` waits for a stdout line starting so. */
function spawn(gated = false) {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", child(gated)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = process.stdin.getWriter();
  const lines: string[] = [];
  const reading = (async () => {
    let rest = "";
    const text = process.stdout.pipeThrough(new TextDecoderStream());
    for await (const chunk of text) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const stderr = new Response(process.stderr).text();
  let ended: Deno.CommandStatus | undefined;
  process.status.then((status) => ended = status);
  return {
    lines,
    line: (start: string) =>
      waitFor(() => {
        if (lines.some((l) => l.startsWith(start))) return true;
        if (!ended) return false;
        throw new Error(
          `The child exited (${ended.code}, ${ended.signal}) before "${start}..."`,
        );
      }, { timeout: 20_000, message: `the line "${start}..."` }),
    kill: (signal: Deno.Signal) => process.kill(signal),
    send: (text: string) => stdin.write(new TextEncoder().encode(text)),
    finishHook: () => stdin.close(),
    /** The exit, which must come within 5 s. */
    async exit() {
      const status = await within(process.status, {
        timeout: 5000,
        message: "the child's exit",
      });
      await reading;
      await stdin.close().catch(() => {});
      return { code: status.code, stderr: await stderr };
    },
  };
}

Deno.test("StopSignals ends the process at once, saying so, on a second SIGTERM or SIGINT during a graceful shutdown", async () => {
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    const p = spawn();
    await p.line("listening");
    p.kill(signal);
    await p.line("beforeShutdown running");
    // The hook would hold the graceful shutdown until stdin closes.
    p.kill(signal);
    const exited = await p.exit();
    assert.equal(exited.code, code, exited.stderr);
    assert.ok(!p.lines.includes("shut down cleanly"));
    assert.match(
      exited.stderr,
      new RegExp(`${signal} again: stopping at once`),
    );
    assert.ok(
      p.lines.includes(
        `${signal}: shutting down gracefully (another SIGINT or SIGTERM stops at once)`,
      ),
    );
  }
});

Deno.test("StopSignals ignores a SIGUSR2 during a graceful shutdown, saying so", async () => {
  const p = spawn();
  await p.line("listening");
  p.kill("SIGTERM");
  await p.line("beforeShutdown running");
  p.kill("SIGUSR2");
  await p.line("SIGUSR2 ignored: the server is already stopping");
  await p.finishHook();
  const exited = await p.exit();
  assert.equal(exited.code, 0, exited.stderr);
  assert.ok(p.lines.includes("shut down cleanly"));
  assert.ok(!p.lines.some((l) => l.startsWith("SIGUSR2: draining")));
});

Deno.test("StopSignals stops gracefully on a SIGUSR2 that comes before the server listens", async () => {
  const p = spawn(true);
  await p.line("starting");
  p.kill("SIGUSR2");
  await p.line("SIGUSR2 before the server started");
  // Starting goes on (listen is not refused) and ends in a clean stop.
  await p.send("go\n");
  await p.line("beforeShutdown running");
  await p.finishHook();
  const exited = await p.exit();
  assert.equal(exited.code, 0, exited.stderr);
  assert.ok(p.lines.includes("listening"));
  assert.ok(p.lines.includes("shut down cleanly"));
});

Deno.test("StopSignals lets a SIGTERM after a SIGUSR2 drain finish the shutdown gracefully", async () => {
  const p = spawn();
  await p.line("listening");
  p.kill("SIGUSR2");
  await p.line("beforeShutdown running"); // Drained, now shutting down.
  // A supervisor's SIGTERM (as after a preStop hook) is a first one.
  p.kill("SIGTERM");
  await p.line("SIGTERM: shutting down gracefully");
  await p.finishHook();
  const exited = await p.exit();
  assert.equal(exited.code, 0, exited.stderr);
  assert.ok(p.lines.includes("SIGUSR2: draining over 50 ms, then stopping"));
  assert.ok(p.lines.includes("shut down cleanly"));
});
