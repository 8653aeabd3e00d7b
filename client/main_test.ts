// The command-line client, run as a process against the real server.

import assert from "node:assert/strict";
import {
  captureConsole,
  startServer,
  type TestTransport,
  waitFor,
} from "../testing/mod.ts";
import { startDemoServer } from "./_fixture_test.ts";
import { call, Lines, MAIN } from "./_cli_test.ts";
import { report, UsageError } from "./main.ts";

const enc = new TextEncoder();

for (const transport of ["tcp", "unix"] as const satisfies TestTransport[]) {
  Deno.test(`deno task call answers over ${transport}`, async () => {
    await using demo = await startDemoServer({ transports: [transport] });
    const text = await call(demo.url, "/echo", "hello world");
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "hello world\n");
    const bytes = await call(demo.url, "/echo", "--data-hex", "00ff10");
    assert.equal(bytes.stdout, "00ff10\n");
    const hashed = await call(demo.url, "/echo", "x", "--hash", "--hex");
    assert.equal(hashed.stdout, "78\n");
    const json = await call(demo.url, "/echo", "hi", "--json");
    assert.deepEqual(JSON.parse(json.stdout), {
      status: "OK",
      message: "",
      data: "hi",
      hex: "6869",
    });
    const ping = await call(demo.url, "--ping");
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stdout, /^\d+\.\d+ ms\n$/);
  });

  Deno.test(`deno task call exits non-zero for an unknown path over ${transport}`, async () => {
    await using demo = await startDemoServer({ transports: [transport] });
    const result = await call(demo.url, "/nope");
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /NOT_FOUND: .*\/nope/);
    const failing = await call(demo.url, "/fail");
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /INTERNAL_ERROR/);
  });
}

Deno.test("deno task call reports usage and connection errors", async () => {
  const usage = await call("tcp://127.0.0.1:1");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: deno task call/);
  const badHex = await call("tcp://127.0.0.1:1", "/x", "--data-hex", "abc");
  assert.equal(badHex.code, 2);
  const badAddress = await call("tcp://127.0.0.1", "/x");
  assert.equal(badAddress.code, 2);
  assert.match(badAddress.stderr, /usage: deno task call/);
  const badOption = await call("tcp://127.0.0.1:1", "/x", "--nope");
  assert.equal(badOption.code, 2);
  // Flags and arguments that would be ignored are refused.
  const filterAlone = await call("tcp://127.0.0.1:1", "/x", "--filter", "z");
  assert.equal(filterAlone.code, 2);
  assert.match(
    filterAlone.stderr,
    /--filter and --filter-hex go with --subscribe/,
  );
  const pingPath = await call("tcp://127.0.0.1:1", "--ping", "/echo", "hi");
  assert.equal(pingPath.code, 2);
  assert.match(pingPath.stderr, /Unexpected "\/echo"/);
  await using demo = await startDemoServer();
  await demo.stop();
  const refused = await call(demo.url, "/echo");
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /Could not connect/);
});

Deno.test("deno task call --subscribe prints updates published after a server restart", async () => {
  await using demo = await startDemoServer();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, demo.url, "/ticks", "--subscribe"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Lines(child.stderr);
  try {
    await waitFor(() => stderr.has(/subscribed to \/ticks/), 10_000);
    demo.server.publish("/ticks", enc.encode("before"));
    await waitFor(() => stdout.has(/^before$/));

    await demo.restart();
    await waitFor(() => stderr.has(/reconnected/), 10_000);
    // The resubscribe is on its way once reconnected: publish when it lands.
    await waitFor(() => demo.server.stats().subscriptions > 0, 10_000);
    demo.server.publish("/ticks", enc.encode("after"));
    await waitFor(() => stdout.has(/^after$/));
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 0, stderr.lines.join("\n"));
    await Promise.all([stdout.done, stderr.done]);
    assert.equal(stdout.lines[0], "before");
    assert.equal(stdout.lines[1], "after");
  } finally {
    try {
      child.kill();
    } catch {
      // Already exited.
    }
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
  }
});

Deno.test("deno task call --json prints pings and local errors as JSON", async () => {
  await using demo = await startDemoServer();
  const url = demo.url;
  const ping = await call(url, "--ping", "--json");
  assert.equal(ping.code, 0, ping.stderr);
  const pong = JSON.parse(ping.stdout);
  assert.equal(pong.status, "OK");
  assert.equal(typeof pong.ms, "number");
  const notFound = await call(url, "/nope", "--json");
  assert.equal(notFound.code, 1);
  assert.equal(JSON.parse(notFound.stdout).status, "NOT_FOUND");
  await demo.stop();
  const refused = await call(url, "/echo", "--json");
  assert.equal(refused.code, 3);
  assert.equal(refused.stderr, "");
  const error = JSON.parse(refused.stdout);
  assert.equal(error.status, null);
  assert.equal(error.error, "NotConnectedError");
  assert.match(error.message, /Could not connect/);
  const usage = await call("bogus://x", "/echo", "--json");
  assert.equal(usage.code, 2);
  assert.equal(JSON.parse(usage.stdout).error, "UsageError");
});

Deno.test("deno task call treats only command-line mistakes as usage errors", () => {
  using logged = captureConsole("error");
  assert.equal(report(new UsageError("Give a path"), false), 2);
  assert.equal(report(new TypeError("x is not a function"), false), 4);
  assert.equal(report(new Error("surprise"), false), 4);
  assert.match(String(logged.calls[1][0]), /x is not a function/);
});

Deno.test("deno task call --max-message-size accepts answers as large as a server allows", async () => {
  const big = 2 * 1024 * 1024;
  await using t = await startServer((server) => {
    server.handle("/big", () => new Uint8Array(big).fill(0x61));
  }, { maxMessageSize: 4 * 1024 * 1024 });
  const refused = await call(t.url, "/big");
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /--max-message-size/);
  const taken = await call(t.url, "/big", "--max-message-size", "4194304");
  assert.equal(taken.code, 0, taken.stderr);
  assert.equal(taken.stdout, `${"a".repeat(big)}\n`);
  for (const bad of ["0", "1.5", "lots", " "]) {
    const wrong = await call(t.url, "/big", "--max-message-size", bad);
    assert.equal(wrong.code, 2, bad);
    assert.match(wrong.stderr, /--max-message-size wants a positive whole/);
  }
});
