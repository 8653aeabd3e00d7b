// Where `deno task call` gets its types: the server's reflection answer,
// and what it does when that answer cannot type a call.

import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ReflectionPath_Kind,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import { Room } from "../proto/gen/chat_pb.ts";
import { REFLECTION_PATH } from "../protocol/service.ts";
import { registerDemo } from "../server/demo.ts";
import { fileDescriptorSet } from "../server/reflection.ts";
import { startServer } from "../testing/mod.ts";
import { fnv1a } from "../wasm/wire.ts";
import { call } from "./_cli_test.ts";
import { missingTypes, reflectedSchema, SchemaError } from "./_cli_schema.ts";

Deno.test("reflectedSchema marks a path whose type none of the files defines", () => {
  const response = (inputType: string) =>
    create(ReflectionResponseSchema, {
      files: fileDescriptorSet([Room.file]),
      paths: [{
        path: "/room/send",
        kind: ReflectionPath_Kind.REQUEST,
        inputType,
        outputType: "nanorpc_demo.ChatAck",
      }],
    });
  const typed = reflectedSchema(response("nanorpc_demo.ChatMessage"));
  assert.equal(typed.paths[0].input?.typeName, "nanorpc_demo.ChatMessage");
  assert.equal(missingTypes(typed.paths[0]), undefined);
  // Not "untyped": JSON data would then go out as text.
  const broken = reflectedSchema(response("other.Message")).paths[0];
  assert.equal(broken.input, undefined);
  assert.equal(broken.output?.typeName, "nanorpc_demo.ChatAck");
  assert.deepEqual(broken.missing, { input: "other.Message" });
  const error = missingTypes(broken);
  assert.ok(error instanceof SchemaError);
  assert.match(
    error.message,
    /gives \/room\/send the type other\.Message, which none of its files defines/,
  );
});

/**
 * A server of the demo, and `/broken` (an echo), whose reflection answer
 * gives `/broken` a type none of its files defines.
 */
function serverLackingOneType() {
  const paths = [
    ["/broken", "other.Message", "nanorpc_demo.ChatAck", ""],
    ["/echo", "", "", ""],
    ["/room/join", "nanorpc_demo.ChatJoin", "nanorpc_demo.ChatAck", "Join"],
  ].map(([path, inputType, outputType, method]) => ({
    path,
    pathHash: fnv1a(path),
    kind: ReflectionPath_Kind.REQUEST,
    inputType,
    outputType,
    method: method && `nanorpc_demo.Room.${method}`,
  }));
  const answer = toBinary(
    ReflectionResponseSchema,
    create(ReflectionResponseSchema, {
      files: fileDescriptorSet([Room.file]),
      paths,
    }),
  );
  return startServer((server) => {
    registerDemo(server);
    server.handle("/broken", (ctx) => ctx.data);
    server.handle(REFLECTION_PATH, () => answer);
  }, { reflection: false });
}

const LACKS =
  "The server's reflection gives /broken the type other.Message, which none of its files defines: give --proto FILE or --descriptor-set FILE";

Deno.test("deno task call --list shows every path when one lacks a type, marking it", async () => {
  await using t = await serverLackingOneType();
  const list = await call(t.url, "--list");
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.split("\n"), [
    "/broken     request  0xa823dc07  other.Message (missing) \u2192 nanorpc_demo.ChatAck",
    "/echo       request  0xc5f7ed3f  untyped",
    "/room/join  request  0x2ae2bf1a  nanorpc_demo.ChatJoin \u2192 nanorpc_demo.ChatAck  (nanorpc_demo.Room.Join)",
    "",
  ]);
  assert.equal(list.stderr, `warning: ${LACKS}\n`);
  const json = await call(t.url, "--list", "--json");
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout.split("\n")[0]), {
    path: "/broken",
    hash: "0xa823dc07",
    kind: "request",
    input: "other.Message",
    output: "nanorpc_demo.ChatAck",
    method: null,
    missing: ["other.Message"],
  });
  assert.equal(JSON.parse(json.stdout.split("\n")[1]).missing, undefined);
});

Deno.test("deno task call --describe fails only for the path that lacks a type", async () => {
  await using t = await serverLackingOneType();
  const good = await call(t.url, "--describe", "/room/join");
  assert.equal(good.code, 0, good.stderr);
  assert.match(
    good.stdout,
    /^input nanorpc_demo\.ChatJoin:\nmessage ChatJoin/m,
  );
  const broken = await call(t.url, "--describe", "/broken");
  assert.equal(broken.code, 4, broken.stderr);
  assert.equal(broken.stdout, "");
  assert.equal(broken.stderr, `error: ${LACKS}\n`);
});

Deno.test("deno task call types a good path and refuses JSON only for the path that lacks a type", async () => {
  await using t = await serverLackingOneType();
  const good = await call(t.url, "/room/join", '{"name":"ada"}');
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stdout, "{}\n");
  assert.equal(good.stderr, "");
  const json = await call(t.url, "/broken", '{"text":"hi"}');
  assert.equal(json.code, 4, json.stderr);
  assert.equal(json.stdout, "");
  assert.equal(json.stderr, `error: ${LACKS}\n`);
  // Text needs no types: it goes out untyped, after a warning.
  const text = await call(t.url, "/broken", "hi");
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, "hi\n");
  assert.equal(
    text.stderr,
    `warning: ${LACKS}; sending and printing the data untyped (--proto FILE or --descriptor-set FILE give its types)\n`,
  );
  const raw = await call(t.url, "/broken", "--data-hex", "0aff");
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(raw.stdout, "0aff\n");
});

Deno.test("deno task call sends text untyped when the reflection answer is over --max-message-size", async () => {
  await using t = await startServer(registerDemo);
  const small = ["--max-message-size", "1000"];
  const text = await call(t.url, "/echo", "hi", ...small);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, "hi\n");
  assert.match(
    text.stderr,
    /^warning: The server's reflection answer \(\/_nanorpc\/reflection\) is over this client's size limit: give --max-message-size BYTES as large as the server's; sending and printing the data untyped/,
  );
  // JSON needs the types: the reflection answer is what it blames.
  const json = await call(t.url, "/room/join", '{"name":"ada"}', ...small);
  assert.equal(json.code, 3, json.stderr);
  assert.match(json.stderr, /reflection answer .* is over this client's/);
});
