// `deno task call --subscribe` as a process: how it stops.

import assert from "node:assert/strict";
import { waitFor } from "../testing/mod.ts";
import { startDemoServer } from "./_fixture_test.ts";
import { Lines, MAIN } from "./_cli_test.ts";

const enc = new TextEncoder();

Deno.test("deno task call --subscribe exits 0 once stdout's reader goes away (| head -1)", async () => {
  await using demo = await startDemoServer();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, demo.url, "/ticks", "--subscribe"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Lines(child.stderr);
  const reader = child.stdout.getReader();
  try {
    await waitFor(() => stderr.has(/subscribed to \/ticks/), 10_000);
    demo.server.publish("/ticks", enc.encode("first"));
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value), "first\n");
    // What `head -1` does after its line: stop reading, close the pipe.
    await reader.cancel();
    let exited = false;
    child.status.then(() => exited = true);
    await waitFor(() => {
      demo.server.publish("/ticks", enc.encode("more"));
      return exited;
    }, 10_000);
    const status = await child.status;
    await stderr.done;
    assert.equal(status.code, 0, stderr.lines.join("\n"));
    assert.deepEqual(stderr.lines, ["subscribed to /ticks; Ctrl-C to stop"]);
  } finally {
    try {
      child.kill();
    } catch {
      // Already exited.
    }
    await child.status;
    await stderr.done;
  }
});
