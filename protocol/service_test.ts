import assert from "node:assert/strict";
import { Room } from "../proto/gen/chat_pb.ts";
import { testServices } from "./_test_utils.ts";
import { methodPath, methodPathKind, REFLECTION_PATH } from "./service.ts";

Deno.test("methodPath reads the (nanorpc).request_path option", () => {
  assert.equal(methodPath(Room.method.join), "/room/join");
  assert.equal(methodPath(Room.method.send), "/room/send");
  assert.equal(methodPath(Room.method.messages), "/room/messages");
});

Deno.test("methodPath falls back to /<package>.<Service>/<Method> without the option", () => {
  const { plain } = testServices();
  assert.equal(methodPath(plain.method.echo), "/nanorpc_test.Plain/Echo");
  assert.equal(methodPath(plain.method.watch), "/nanorpc_test.Plain/Watch");
});

Deno.test("methodPath refuses a request_path without a leading slash", () => {
  const { slashless } = testServices();
  assert.throws(
    () => methodPath(slashless.method.get),
    /request_path of nanorpc_test\.Slashless\.Get is "api\/data": paths start with "\/"/,
  );
});

Deno.test("methodPathKind serves unary as requests, server streaming as topics, and refuses the rest", () => {
  const { plain, mixed } = testServices();
  assert.equal(methodPathKind(plain.method.echo), "request");
  assert.equal(methodPathKind(plain.method.watch), "topic");
  assert.throws(
    () => methodPathKind(mixed.method.upload),
    /nanorpc_test\.Mixed\.Upload is client-streaming: NanoRPC serves unary/,
  );
  assert.throws(
    () => methodPathKind(mixed.method.talk),
    /nanorpc_test\.Mixed\.Talk is bidi-streaming/,
  );
});

Deno.test("REFLECTION_PATH is under the reserved /_nanorpc/ prefix", () => {
  assert.ok(REFLECTION_PATH.startsWith("/_nanorpc/"));
});
