// Where `deno task call` gets its types: the server's reflection answer,
// and what it does when that answer cannot type a call.

import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  ReflectionPath_Kind,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import { Room } from "../proto/gen/chat_pb.ts";
import { registerDemo } from "../server/demo.ts";
import { fileDescriptorSet } from "../server/reflection.ts";
import { startServer } from "../testing/mod.ts";
import { call } from "./_cli_test.ts";
import { reflectedSchema, SchemaError } from "./_cli_schema.ts";

Deno.test("reflectedSchema refuses a path whose type none of the files defines", () => {
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
  // Not "untyped": JSON data would then go out as text.
  assert.throws(
    () => reflectedSchema(response("other.Message")),
    (error: Error) =>
      error instanceof SchemaError &&
      /gives \/room\/send the type other\.Message, which none of its files defines/
        .test(error.message),
  );
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
