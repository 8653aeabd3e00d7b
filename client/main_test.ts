// The command-line client, run as a process against the real server.

import assert from "node:assert/strict";
import { Fixture, type Transport, until } from "./_fixture_test.ts";
import { report, UsageError } from "./main.ts";
import { captureConsoleError } from "./_raw_peer_test.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const enc = new TextEncoder();

async function call(...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: output.code,
    stdout: dec.decode(output.stdout),
    stderr: dec.decode(output.stderr),
  };
}

/** Collects a stream's lines as they come. */
class Lines {
  readonly lines: string[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
      if (rest) this.lines.push(rest);
    })();
  }

  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line));
  }
}

for (const transport of ["tcp", "unix"] as const satisfies Transport[]) {
  Deno.test(`deno task call answers over ${transport}`, async () => {
    const fixture = await Fixture.start(transport);
    try {
      const text = await call(fixture.url, "/echo", "hello world");
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.stdout, "hello world\n");
      const bytes = await call(fixture.url, "/echo", "--data-hex", "00ff10");
      assert.equal(bytes.stdout, "00ff10\n");
      const hashed = await call(fixture.url, "/echo", "x", "--hash", "--hex");
      assert.equal(hashed.stdout, "78\n");
      const json = await call(fixture.url, "/echo", "hi", "--json");
      assert.deepEqual(JSON.parse(json.stdout), {
        status: "OK",
        message: "",
        data: "hi",
        hex: "6869",
      });
      const ping = await call(fixture.url, "--ping");
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(ping.stdout, /^\d+\.\d+ ms\n$/);
    } finally {
      await fixture.dispose();
    }
  });

  Deno.test(`deno task call exits non-zero for an unknown path over ${transport}`, async () => {
    const fixture = await Fixture.start(transport);
    try {
      const result = await call(fixture.url, "/nope");
      assert.equal(result.code, 1);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /NOT_FOUND: .*\/nope/);
      const failing = await call(fixture.url, "/fail");
      assert.equal(failing.code, 1);
      assert.match(failing.stderr, /INTERNAL_ERROR/);
    } finally {
      await fixture.dispose();
    }
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
  const fixture = await Fixture.start("tcp");
  const url = fixture.url;
  await fixture.dispose();
  const refused = await call(url, "/echo");
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /Could not connect/);
});

Deno.test("deno task call --subscribe prints updates published after a server restart", async () => {
  const fixture = await Fixture.start("tcp");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, fixture.url, "/ticks", "--subscribe"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Lines(child.stderr);
  try {
    await until(() => stderr.has(/subscribed to \/ticks/), 10_000);
    fixture.server.publish("/ticks", enc.encode("before"));
    await until(() => stdout.has(/^before$/));

    await fixture.stop();
    await fixture.restart();
    await until(() => stderr.has(/reconnected/), 10_000);
    // The resubscribe may still be on its way: publish until it lands.
    for (let i = 0; !stdout.has(/^after/); i++) {
      if (fixture.server.stats().subscriptions > 0) {
        fixture.server.publish("/ticks", enc.encode(`after ${i}`));
      }
      await new Promise((r) => setTimeout(r, 20));
      if (i > 500) throw new Error("No update after the restart");
    }
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 0, stderr.lines.join("\n"));
    await Promise.all([stdout.done, stderr.done]);
    assert.equal(stdout.lines[0], "before");
    assert.match(stdout.lines[1], /^after \d+$/);
  } finally {
    try {
      child.kill();
    } catch {
      // Already exited.
    }
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
    await fixture.dispose();
  }
});

Deno.test("deno task call --json prints pings and local errors as JSON", async () => {
  const fixture = await Fixture.start("tcp");
  const url = fixture.url;
  try {
    const ping = await call(url, "--ping", "--json");
    assert.equal(ping.code, 0, ping.stderr);
    const pong = JSON.parse(ping.stdout);
    assert.equal(pong.status, "OK");
    assert.equal(typeof pong.ms, "number");
    const notFound = await call(url, "/nope", "--json");
    assert.equal(notFound.code, 1);
    assert.equal(JSON.parse(notFound.stdout).status, "NOT_FOUND");
  } finally {
    await fixture.dispose();
  }
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
  using logged = captureConsoleError();
  assert.equal(report(new UsageError("Give a path"), false), 2);
  assert.equal(report(new TypeError("x is not a function"), false), 4);
  assert.equal(report(new Error("surprise"), false), 4);
  assert.match(String(logged.calls[1][0]), /x is not a function/);
});
