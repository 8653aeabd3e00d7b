// server.service over real sockets, checked on the wire through protobuf-es.

import assert from "node:assert/strict";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  ChatMessageSchema,
  Room,
} from "../proto/gen/chat_pb.ts";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { NanoRPCResponse_Status } from "../proto/gen/nanorpc_pb.ts";
import { testServices } from "../protocol/_test_utils.ts";
import {
  REQUEST,
  RESPONSE,
  startServer,
  SUBSCRIBE,
  UPDATE,
} from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import { Server } from "./server.ts";

/** `nanorpc_test.Note`, built at run time, so untyped. */
interface Note {
  text: string;
}

const OK = NanoRPCResponse_Status.OK;
const NOT_FOUND = NanoRPCResponse_Status.NOT_FOUND;

function bytes<T extends DescMessage>(
  schema: T,
  init: MessageInitShape<T>,
): Uint8Array {
  return toBinary(schema, create(schema, init));
}

function request(
  id: number,
  path: string,
  data: Uint8Array = new Uint8Array(),
) {
  return {
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path" as const, value: path },
    data,
  };
}

Deno.test("Server.service serves Room at its request paths with the demo's wire contract", async () => {
  await using t = await startServer(registerDemo);
  const peer = await t.connectRaw();
  const watcher = await t.connectRaw();
  const ack = await watcher.call({
    requestId: 7,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
    data: bytes(ChatFilterSchema, { from: "ada" }),
  });
  assert.equal(ack.responseStatus, OK);
  const joined = await peer.call(
    request(1, "/room/join", bytes(ChatJoinSchema, { name: "ada" })),
  );
  assert.deepEqual(
    [joined.responseType, joined.responseStatus, joined.data.length],
    [RESPONSE, OK, 0],
  );
  const sent = await peer.call(
    request(2, "/room/send", bytes(ChatMessageSchema, { text: "hi" })),
  );
  assert.deepEqual([sent.responseStatus, sent.data.length], [OK, 0]);
  const update = await watcher.read();
  assert.deepEqual([update.responseType, update.requestId], [UPDATE, 7]);
  assert.deepEqual(
    update.data,
    bytes(ChatMessageSchema, { from: "ada", text: "hi" }),
  );
});

Deno.test("Server.service answers request data that does not decode with INTERNAL_ERROR naming the type", async () => {
  await using t = await startServer(registerDemo);
  const peer = await t.connectRaw();
  const bad = await peer.call(request(1, "/room/send", new Uint8Array([0xff])));
  assert.equal(bad.responseStatus, NanoRPCResponse_Status.INTERNAL_ERROR);
  assert.match(bad.responseMessage, /not a valid nanorpc_demo\.ChatMessage/);
});

Deno.test("Server.service serves methods without request_path at /<package>.<Service>/<Method>", async () => {
  const { plain } = testServices();
  const note = plain.method.echo.input;
  let registration;
  await using t = await startServer((server) => {
    registration = server.service(plain, {
      echo: (msg) => ({ text: `${(msg as unknown as Note).text}!` }),
    });
  });
  assert.deepEqual(registration!.paths, {
    echo: "/nanorpc_test.Plain/Echo",
    watch: "/nanorpc_test.Plain/Watch",
  });
  const peer = await t.connectRaw();
  const echoed = await peer.call(
    request(1, "/nanorpc_test.Plain/Echo", bytes(note, { text: "hi" })),
  );
  assert.equal(echoed.responseStatus, OK);
  assert.equal((fromBinary(note, echoed.data) as unknown as Note).text, "hi!");
});

Deno.test("ServiceRegistration.publish without a filter sends every update to every subscriber", async () => {
  const { plain } = testServices();
  const note = plain.method.watch.output;
  const server = new Server();
  const registration = server.service(plain, { echo: () => {} });
  await using t = await startServer(server);
  const peer = await t.connectRaw();
  const ack = await peer.call({
    requestId: 3,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/nanorpc_test.Plain/Watch" },
    data: bytes(note, { text: "anything" }),
  });
  assert.equal(ack.responseStatus, OK);
  assert.equal(registration.topic("watch").size, 1);
  registration.publish("watch", { text: "tick" });
  const update = await peer.read();
  assert.equal(update.requestId, 3);
  assert.equal((fromBinary(note, update.data) as unknown as Note).text, "tick");
  assert.throws(
    () => registration.publish("echo", {}),
    /no server-streaming method "echo"/,
  );
});

Deno.test("Server.service refuses client- and bidi-streaming methods and registers nothing", async () => {
  const { mixed } = testServices();
  const server = new Server();
  assert.throws(
    () => server.service(mixed, { echo: () => {} }),
    /nanorpc_test\.Mixed\.Upload is client-streaming/,
  );
  await using t = await startServer(server);
  const peer = await t.connectRaw();
  const echo = await peer.call(request(1, "/nanorpc_test.Mixed/Echo"));
  assert.equal(echo.responseStatus, NOT_FOUND);
});

Deno.test("Server.service refuses a missing, misnamed or misshapen implementation", () => {
  const server = new Server();
  assert.throws(
    // @ts-expect-error: send is missing
    () => server.service(Room, { join: () => {} }),
    /has no function "send" for the unary method Send \(\/room\/send\)/,
  );
  assert.throws(
    () =>
      server.service(Room, {
        join: () => {},
        send: () => {},
        // @ts-expect-error: Room has no method sned
        sned: () => {},
      }),
    /has no method "sned": its methods are join, send, messages/,
  );
  assert.throws(
    () =>
      server.service(Room, {
        join: () => {},
        send: () => {},
        // @ts-expect-error: a streaming method takes { filter }
        messages: () => true,
      }),
    /takes \{ filter \} or nothing/,
  );
});

Deno.test("Server.service refuses a taken path and registers none of the service's methods", async () => {
  const server = new Server();
  server.handle("/room/send", () => "mine");
  assert.throws(
    () => server.service(Room, { join: () => {}, send: () => {} }),
    /Cannot serve nanorpc_demo\.Room\.Send: A handler is already registered at \/room\/send/,
  );
  await using t = await startServer(server);
  const peer = await t.connectRaw();
  const join = await peer.call(request(1, "/room/join"));
  assert.equal(join.responseStatus, NOT_FOUND);
  const subscribe = await peer.call({
    requestId: 2,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
  });
  assert.equal(subscribe.responseStatus, NOT_FOUND);
});

Deno.test("Server.service refuses a request_path without a leading slash", () => {
  const { slashless } = testServices();
  assert.throws(
    () => new Server().service(slashless, { get: () => ({}) }),
    /paths start with "\/"/,
  );
});

/** Service `t.S` of a file built at run time: unary `methods` of `t.E`. */
function serviceOf(methods: string[]): DescService {
  const file = create(FileDescriptorProtoSchema, {
    name: "t.proto",
    package: "t",
    syntax: "proto3",
    messageType: [{ name: "E" }],
    service: [{
      name: "S",
      method: methods.map((name) => ({
        name,
        inputType: ".t.E",
        outputType: ".t.E",
      })),
    }],
  });
  return createFileRegistry(file, () => undefined).getService("t.S")!;
}

Deno.test("Server.service refuses two methods whose paths share an FNV-1a hash, and registers neither", async () => {
  // /t.S/M22949 and /t.S/M824404 hash alike (0xe5e7fd83).
  const colliding = serviceOf(["M22949", "M824404"]);
  const server = new Server();
  assert.throws(
    () => server.service(colliding, { m22949: () => {}, m824404: () => {} }),
    /\/t\.S\/M824404 has the same FNV-1a hash as \/t\.S\/M22949/,
  );
  await using t = await startServer(server);
  const peer = await t.connectRaw();
  const first = await peer.call(request(1, "/t.S/M22949"));
  assert.equal(first.responseStatus, NOT_FOUND);
});

Deno.test("Server.service calls a class instance's methods with the instance as this, beside its own fields", async () => {
  class RoomImpl {
    names: string[] = [];
    join(msg: { name: string }) {
      this.names.push(msg.name);
    }
    send() {
      return this.names.length === 0 ? undefined : {};
    }
    messages = { filter: () => true };
  }
  const impl = new RoomImpl();
  await using t = await startServer((server) =>
    void server.service(Room, impl)
  );
  const peer = await t.connectRaw();
  const joined = await peer.call(
    request(1, "/room/join", bytes(ChatJoinSchema, { name: "ada" })),
  );
  assert.equal(joined.responseStatus, OK, joined.responseMessage);
  assert.deepEqual(impl.names, ["ada"]);
  const sent = await peer.call(request(2, "/room/send"));
  assert.equal(sent.responseStatus, OK, sent.responseMessage);
});

Deno.test("Server.service refuses a unary method implemented only by Object.prototype", () => {
  const service = serviceOf(["ToLocaleString"]);
  assert.throws(
    () => new Server().service(service, {}),
    /has no function "toLocaleString" for the unary method ToLocaleString/,
  );
});

Deno.test("Server.service answers INTERNAL_ERROR when a handler returns a message of another type, and publish refuses one", async () => {
  let room;
  await using t = await startServer((server) => {
    room = server.service(Room, {
      join: () => {},
      // Only a cast gets past the types; a service built at run time has none.
      send: () => create(ChatJoinSchema, { name: "ada" }) as never,
    });
  });
  const peer = await t.connectRaw();
  const sent = await peer.call(request(1, "/room/send"));
  assert.equal(sent.responseStatus, NanoRPCResponse_Status.INTERNAL_ERROR);
  assert.throws(
    () =>
      room!.publish("messages", create(ChatJoinSchema, { name: "x" }) as never),
    /a nanorpc_demo\.ChatJoin where a nanorpc_demo\.ChatMessage is expected/,
  );
});
