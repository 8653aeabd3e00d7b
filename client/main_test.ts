// The command-line client, run as a process against the real server.

import assert from "node:assert/strict";
import { startDemoServer } from "./_fixture_test.ts";
import { report, UsageError } from "./main.ts";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Room } from "../proto/gen/chat_pb.ts";
import { registerDemo } from "../server/demo.ts";
import { fileDescriptorSet } from "../server/reflection.ts";
import {
  captureConsole,
  startServer,
  type TestTransport,
  waitFor,
} from "../testing/mod.ts";

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

/** Starts `deno task call ...args` and collects its output lines. */
function spawnCall(...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Lines(child.stderr);
  return {
    child,
    stdout,
    stderr,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGINT");
      } catch {
        // Already exited.
      }
      await child.status;
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}

Deno.test("deno task call --list shows every path with its kind, hash and types", async () => {
  await using t = await startServer(registerDemo);
  const list = await call(t.url, "--list");
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 5);
  assert.match(
    list.stdout,
    /^\/room\/send +request +0x4abcb534 +nanorpc_demo\.ChatMessage → nanorpc_demo\.ChatAck +\(nanorpc_demo\.Room\.Send\)$/m,
  );
  assert.match(
    list.stdout,
    /^\/room\/messages +topic +0xc16324da +nanorpc_demo\.ChatFilter → stream nanorpc_demo\.ChatMessage/m,
  );
  assert.match(list.stdout, /^\/echo +request +0xc5f7ed3f +untyped$/m);
  const json = await call(t.url, "--list", "--json");
  const rows = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.find((r) => r.path === "/room/messages"), {
    path: "/room/messages",
    hash: "0xc16324da",
    kind: "topic",
    filter: "nanorpc_demo.ChatFilter",
    update: "nanorpc_demo.ChatMessage",
    method: "nanorpc_demo.Room.Messages",
  });
});

Deno.test("deno task call --describe prints a path's messages with their fields", async () => {
  await using t = await startServer(registerDemo);
  const send = await call(t.url, "--describe", "/room/send");
  assert.equal(send.code, 0, send.stderr);
  assert.equal(
    send.stdout,
    [
      "/room/send  request  0x4abcb534  nanorpc_demo.Room.Send",
      "input nanorpc_demo.ChatMessage:",
      "message ChatMessage {",
      "  string from = 1;",
      "  string text = 2;",
      "}",
      "",
      "output nanorpc_demo.ChatAck:",
      "message ChatAck {}",
      "",
    ].join("\n"),
  );
  const type = await call(t.url, "--describe", "nanorpc_demo.ChatFilter");
  assert.equal(
    type.stdout,
    "nanorpc_demo.ChatFilter:\nmessage ChatFilter {\n  string from = 1;\n}\n",
  );
  const json = await call(t.url, "--describe", "/room/join", "--json");
  const described = JSON.parse(json.stdout);
  assert.equal(described.input, "nanorpc_demo.ChatJoin");
  assert.deepEqual(
    described.messages["nanorpc_demo.ChatJoin"].field.map((
      f: { name: string },
    ) => f.name),
    ["name"],
  );
  const missing = await call(t.url, "--describe", "/nope");
  assert.equal(missing.code, 4);
  assert.match(
    missing.stderr,
    /has no path or message type \/nope; --list shows the paths/,
  );
});

Deno.test("deno task call sends DATA as protobuf JSON and prints typed responses as JSON", async () => {
  await using t = await startServer(registerDemo);
  await using sub = spawnCall("--subscribe", t.url, "/room/messages");
  await waitFor(() => sub.stderr.has(/subscribed to \/room\/messages/), 10_000);
  const sent = await call(t.url, "/room/send", '{"text":"hi"}');
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout, "{}\n");
  await waitFor(() => sub.stdout.lines.length > 0);
  assert.deepEqual(JSON.parse(sub.stdout.lines[0]), {
    from: "anonymous",
    text: "hi",
  });
  const json = await call(t.url, "/room/join", '{"name":"ada"}', "--json");
  assert.deepEqual(JSON.parse(json.stdout), {
    status: "OK",
    message: "",
    data: "",
    hex: "",
    type: "nanorpc_demo.ChatAck",
    value: {},
  });
  const notJson = await call(t.url, "/room/send", "hi");
  assert.equal(notJson.code, 2);
  assert.match(
    notJson.stderr,
    /DATA is JSON of nanorpc_demo\.ChatMessage, e\.g\. '\{"from":"…","text":"…"\}'/,
  );
  assert.doesNotMatch(notJson.stderr, /usage:/);
  const wrongField = await call(t.url, "/room/send", '{"txt":"hi"}');
  assert.equal(wrongField.code, 2);
  assert.match(
    wrongField.stderr,
    /key "txt" is unknown; --describe shows its fields/,
  );
  const raw = await call(
    t.url,
    "/room/send",
    "--data-hex",
    "12026869",
    "--hex",
  );
  assert.deepEqual([raw.code, raw.stdout], [0, "\n"]);
});

Deno.test("deno task call --subscribe sends --filter as JSON and prints each update as one JSON line", async () => {
  await using t = await startServer(registerDemo);
  await using sub = spawnCall(
    t.url,
    "/room/messages",
    "--subscribe",
    "--filter",
    '{"from":"ada"}',
  );
  await waitFor(() => sub.stderr.has(/subscribed/), 10_000);
  const room = (await t.client()).service(Room);
  await room.send({ text: "not from ada" });
  await room.join({ name: "ada" });
  await room.send({ text: "one" });
  await room.send({ text: "two" });
  await waitFor(() => sub.stdout.lines.length >= 2);
  assert.deepEqual(sub.stdout.lines.map((l) => JSON.parse(l)), [
    { from: "ada", text: "one" },
    { from: "ada", text: "two" },
  ]);
});

Deno.test("deno task call takes types from --proto or --descriptor-set when reflection is off", async () => {
  await using t = await startServer(registerDemo, { reflection: false });
  const list = await call(t.url, "--list");
  assert.equal(list.code, 4);
  assert.match(
    list.stderr,
    /no reflection .*NOT_FOUND.*give --proto FILE or --descriptor-set FILE/,
  );
  const untyped = await call(t.url, "/room/send", "--data-hex", "12026869");
  assert.deepEqual([untyped.code, untyped.stdout], [0, "\n"]);

  const proto = new URL("../proto/chat.proto", import.meta.url).pathname;
  const protoList = await call("--proto", proto, "--list");
  assert.equal(protoList.code, 0, protoList.stderr);
  assert.match(
    protoList.stdout,
    /^\/room\/send +request .*nanorpc_demo\.ChatMessage/m,
  );
  const sent = await call(
    t.url,
    "/room/join",
    '{"name":"ada"}',
    "--proto",
    proto,
  );
  assert.deepEqual([sent.code, sent.stdout], [0, "{}\n"], sent.stderr);

  const dir = await Deno.makeTempDir();
  try {
    const set = `${dir}/chat.binpb`;
    await Deno.writeFile(
      set,
      toBinary(FileDescriptorSetSchema, fileDescriptorSet([Room.file])),
    );
    await using sub = spawnCall(
      "--subscribe",
      t.url,
      "/room/messages",
      "--descriptor-set",
      set,
    );
    await waitFor(() => sub.stderr.has(/subscribed/), 10_000);
    const typed = await call(
      t.url,
      "/room/send",
      '{"text":"typed"}',
      "--descriptor-set",
      set,
    );
    assert.deepEqual([typed.code, typed.stdout], [0, "{}\n"], typed.stderr);
    await waitFor(() => sub.stdout.lines.length > 0);
    assert.deepEqual(JSON.parse(sub.stdout.lines[0]), {
      from: "anonymous",
      text: "typed",
    });
    const describe = await call(
      "--descriptor-set",
      set,
      "--describe",
      "/room/join",
    );
    assert.match(
      describe.stdout,
      /message ChatJoin \{\n {2}string name = 1;\n\}/,
    );

    await Deno.writeTextFile(
      `${dir}/broken.proto`,
      'syntax = "proto3";\nmessage {',
    );
    const broken = await call("--proto", `${dir}/broken.proto`, "--list");
    assert.equal(broken.code, 4);
    assert.match(
      broken.stderr,
      new RegExp(
        `buf could not compile .*\\n${dir}/broken\\.proto:2:1:missing name`,
      ),
    );
    await Deno.writeFile(set, new Uint8Array([0xff]));
    const garbage = await call("--descriptor-set", set, "--list");
    assert.equal(garbage.code, 4);
    assert.match(garbage.stderr, /is not a binary FileDescriptorSet/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
