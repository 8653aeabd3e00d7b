// Reflection over a real socket, decoded with protobuf-es.

import assert from "node:assert/strict";
import {
  create,
  createFileRegistry,
  fromBinary,
  getOption,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import {
  ChatJoinSchema,
  ChatMessageSchema,
  Room,
} from "../proto/gen/chat_pb.ts";
import { nanorpc, NanoRPCResponse_Status } from "../proto/gen/nanorpc_pb.ts";
import {
  type ReflectionPath,
  ReflectionPath_Kind,
  type ReflectionResponse,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import { testServices } from "../protocol/_test_utils.ts";
import { fnv1a } from "../wasm/wire.ts";
import { type RawClient, REQUEST, startServer } from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import { fileDescriptorSet, REFLECTION_PATH } from "./reflection.ts";
import type { Server } from "./server.ts";

const { REQUEST: KIND_REQUEST, TOPIC: KIND_TOPIC } = ReflectionPath_Kind;

async function reflect(peer: RawClient): Promise<ReflectionResponse> {
  const response = await peer.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: REFLECTION_PATH },
  });
  assert.equal(
    response.responseStatus,
    NanoRPCResponse_Status.OK,
    response.responseMessage,
  );
  return fromBinary(ReflectionResponseSchema, response.data);
}

function row(paths: ReflectionPath[], path: string, kind: number) {
  const found = paths.find((p) => p.path === path && p.kind === kind);
  assert.ok(found, `${path} is not in the path table`);
  const { inputType, outputType, filterType, updateType, method } = found;
  return { inputType, outputType, filterType, updateType, method };
}

function demo(server: Server): void {
  registerDemo(server);
  server.handle("/typed", { input: ChatJoinSchema }, () => {});
  server.topic("/ticks");
}

Deno.test("Server answers /_nanorpc/reflection with its path table, sorted, with hashes", async () => {
  await using t = await startServer(demo);
  const { paths } = await reflect(await t.connectRaw());
  assert.deepEqual(paths.map((p) => [p.path, p.kind]), [
    ["/_nanorpc/reflection", KIND_REQUEST],
    ["/echo", KIND_REQUEST],
    ["/room/join", KIND_REQUEST],
    ["/room/messages", KIND_TOPIC],
    ["/room/send", KIND_REQUEST],
    ["/ticks", KIND_TOPIC],
    ["/typed", KIND_REQUEST],
  ]);
  for (const p of paths) assert.equal(p.pathHash, fnv1a(p.path), p.path);
  const none = {
    inputType: "",
    outputType: "",
    filterType: "",
    updateType: "",
  };
  assert.deepEqual(row(paths, "/echo", KIND_REQUEST), { ...none, method: "" });
  assert.deepEqual(row(paths, "/ticks", KIND_TOPIC), { ...none, method: "" });
  assert.deepEqual(row(paths, "/room/send", KIND_REQUEST), {
    ...none,
    inputType: "nanorpc_demo.ChatMessage",
    outputType: "nanorpc_demo.ChatAck",
    method: "nanorpc_demo.Room.Send",
  });
  assert.deepEqual(row(paths, "/room/messages", KIND_TOPIC), {
    ...none,
    filterType: "nanorpc_demo.ChatFilter",
    updateType: "nanorpc_demo.ChatMessage",
    method: "nanorpc_demo.Room.Messages",
  });
  assert.deepEqual(row(paths, "/typed", KIND_REQUEST), {
    ...none,
    inputType: "nanorpc_demo.ChatJoin",
    method: "",
  });
  assert.deepEqual(row(paths, REFLECTION_PATH, KIND_REQUEST), {
    ...none,
    inputType: "nanorpc_reflection.ReflectionRequest",
    outputType: "nanorpc_reflection.ReflectionResponse",
    method: "",
  });
});

Deno.test("Server's reflection files resolve every type in the table and carry the request_path options", async () => {
  await using t = await startServer(demo);
  const { files, paths } = await reflect(await t.connectRaw());
  assert.ok(files);
  const names = files.file.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, "each file once");
  for (const [i, file] of files.file.entries()) {
    for (const dependency of file.dependency) {
      assert.ok(
        names.indexOf(dependency) < i,
        `${dependency} before ${file.name}`,
      );
    }
  }
  const registry = createFileRegistry(files);
  for (const p of paths) {
    for (
      const type of [p.inputType, p.outputType, p.filterType, p.updateType]
    ) {
      if (type) assert.ok(registry.getMessage(type), `${type} resolves`);
    }
  }
  const room = registry.getService("nanorpc_demo.Room");
  assert.ok(room);
  assert.deepEqual(
    room.methods.map((m) => m.methodKind),
    Room.methods.map((m) => m.methodKind),
  );
  assert.deepEqual(
    room.methods.map((m) => getOption(m, nanorpc).requestPath),
    ["/room/join", "/room/send", "/room/messages"],
  );
  const message = registry.getMessage("nanorpc_demo.ChatMessage")!;
  assert.deepEqual(
    message.fields.map((f) => f.name),
    ChatMessageSchema.fields.map((f) => f.name),
  );
});

Deno.test("Server's reflection answer follows registrations made after it was read", async () => {
  const { plain } = testServices();
  await using t = await startServer((server) => server.handle("/a", () => {}));
  const peer = await t.connectRaw();
  assert.equal((await reflect(peer)).paths.length, 2);
  t.server.service(plain, { echo: () => {} });
  const after = await reflect(peer);
  assert.deepEqual(after.paths.map((p) => p.path), [
    "/_nanorpc/reflection",
    "/a",
    "/nanorpc_test.Plain/Echo",
    "/nanorpc_test.Plain/Watch",
  ]);
  assert.ok(
    after.files?.file.some((f) => f.name === "nanorpc_test/plain.proto"),
  );
});

Deno.test("Server with reflection: false answers /_nanorpc/reflection NOT_FOUND", async () => {
  await using t = await startServer(registerDemo, { reflection: false });
  const peer = await t.connectRaw();
  const response = await peer.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: REFLECTION_PATH },
  });
  assert.equal(response.responseStatus, NanoRPCResponse_Status.NOT_FOUND);
});

Deno.test("fileDescriptorSet lists each file once, after the files it imports", () => {
  const set = fileDescriptorSet([Room.file, ChatJoinSchema.file, Room.file]);
  assert.deepEqual(set.file.map((f) => f.name), [
    "google/protobuf/descriptor.proto",
    "nanopb.proto",
    "nanorpc.proto",
    "chat.proto",
  ]);
});

Deno.test("fileDescriptorSet keeps two files of one name that declare different names, the later renamed", () => {
  const note = { name: "Note" };
  // Another project's chat.proto, and a file that imports it.
  const other = create(FileDescriptorProtoSchema, {
    name: "chat.proto",
    package: "other",
    syntax: "proto3",
    messageType: [note],
  });
  const user = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "user.proto",
      package: "other",
      syntax: "proto3",
      dependency: ["chat.proto"],
      messageType: [{
        name: "User",
        field: [{
          name: "note",
          jsonName: "note",
          number: 1,
          type: FieldDescriptorProto_Type.MESSAGE,
          typeName: ".other.Note",
        }],
      }],
    }),
    (name) => name === "chat.proto" ? other : undefined,
  ).getFile("user.proto")!;
  // Another version of the demo's chat.proto: one file, kept once.
  const older = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "chat.proto",
      package: "nanorpc_demo",
      syntax: "proto3",
      messageType: [{ name: "ChatJoin" }, note],
    }),
    () => undefined,
  ).getFile("chat.proto")!;
  const set = fileDescriptorSet([Room.file, user, older]);
  assert.deepEqual(set.file.map((f) => f.name), [
    "google/protobuf/descriptor.proto",
    "nanopb.proto",
    "nanorpc.proto",
    "chat.proto",
    "chat~2.proto",
    "user.proto",
  ]);
  assert.deepEqual(set.file[5].dependency, ["chat~2.proto"]);
  assert.equal(set.file[3], Room.file.proto);
  const registry = createFileRegistry(set);
  assert.equal(
    registry.getMessage("other.User")?.fields[0].message?.name,
    "Note",
  );
  assert.ok(registry.getMessage("nanorpc_demo.ChatJoin"));
  assert.equal(registry.getMessage("nanorpc_demo.Note"), undefined);
  // The descriptors the server holds are left as they are.
  assert.equal(user.proto.dependency[0], "chat.proto");
  assert.equal(user.dependencies[0].proto.name, "chat.proto");
});
