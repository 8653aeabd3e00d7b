// The command-line client's typed face, run as a process: --list and
// --describe, protobuf JSON in and out, with types from the server's
// reflection or from --proto / --descriptor-set; what it does when the
// reflection answer or a reply is not what it says.

import assert from "node:assert/strict";
import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import {
  ReflectionPath_Kind,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import { REFLECTION_PATH } from "../protocol/service.ts";
import { fnv1a } from "../wasm/wire.ts";
import { Room } from "../proto/gen/chat_pb.ts";
import { registerDemo } from "../server/demo.ts";
import { fileDescriptorSet } from "../server/reflection.ts";
import { startServer, waitFor } from "../testing/mod.ts";
import { call, spawnCall } from "./_cli_test.ts";

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

/** A server whose reflection answer is `files` and `paths`, as given. */
function serverReflecting(
  paths: { path: string; outputType?: string }[],
  files: DescFile[],
  extra: FileDescriptorProto[] = [],
) {
  return startServer((server) => {
    const set = fileDescriptorSet(files);
    const answer = toBinary(
      ReflectionResponseSchema,
      create(ReflectionResponseSchema, {
        files: { file: [...extra, ...set.file] },
        paths: paths.map((p) => ({
          ...p,
          pathHash: fnv1a(p.path),
          kind: ReflectionPath_Kind.REQUEST,
        })),
      }),
    );
    server.handle(REFLECTION_PATH, () => answer);
    server.handle("/bad", () => new Uint8Array([0xff, 0xff]));
    server.handle("/echo", (ctx) => ctx.data);
  }, { reflection: false });
}

Deno.test("deno task call exits 4 when an answer does not decode as its type, printing it raw", async () => {
  await using t = await serverReflecting([
    { path: "/bad", outputType: "nanorpc_demo.ChatMessage" },
  ], [Room.file]);
  const bad = await call(t.url, "/bad", "--data-hex", "00");
  assert.equal(bad.code, 4);
  assert.equal(bad.stdout, "ffff\n");
  assert.match(bad.stderr, /does not decode as nanorpc_demo\.ChatMessage/);
  const json = await call(t.url, "/bad", "--data-hex", "00", "--json");
  assert.equal(json.code, 4);
  assert.equal(JSON.parse(json.stdout).hex, "ffff");
  // Asked for raw bytes: nothing to decode, nothing wrong.
  const raw = await call(t.url, "/bad", "--data-hex", "00", "--hex");
  assert.deepEqual([raw.code, raw.stdout], [0, "ffff\n"]);
});

Deno.test("deno task call goes on untyped when the server's reflection is not a complete file set", async () => {
  // A file that imports one the answer leaves out.
  const orphan = create(FileDescriptorProtoSchema, {
    name: "orphan.proto",
    dependency: ["missing.proto"],
  });
  await using t = await serverReflecting([{ path: "/echo" }], [], [orphan]);
  const echo = await call(t.url, "/echo", "hello");
  assert.deepEqual([echo.code, echo.stdout], [0, "hello\n"], echo.stderr);
  assert.match(
    echo.stderr,
    /warning: The files from the server's reflection do not form a complete set .*untyped/,
  );
  // JSON data needs the types: that fails, saying why.
  const json = await call(t.url, "/echo", '{"text":"hi"}');
  assert.equal(json.code, 4);
  assert.match(json.stderr, /do not form a complete set/);
  // Listing needs the schema: that still fails, saying why.
  const list = await call(t.url, "--list");
  assert.equal(list.code, 4);
  assert.match(list.stderr, /do not form a complete set/);
});
