// Generated service → server.service → client.service, over real sockets.

import assert from "node:assert/strict";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import {
  ChatJoinSchema,
  type ChatMessage,
  Room,
} from "../proto/gen/chat_pb.ts";
import { testServices } from "../protocol/_test_utils.ts";
import { registerDemo } from "../server/demo.ts";
import { startServer } from "../testing/mod.ts";
import { ClientError, NotFoundError } from "./errors.ts";
import type { ClientSubscription } from "./subscription.ts";
import type { StreamingClientMethod, UnaryClientMethod } from "./service.ts";

/** The next update of `sub`, or a failure after 5 s. */
async function next<T>(sub: ClientSubscription<T>): Promise<T> {
  const iterator = sub[Symbol.asyncIterator]();
  const timer = setTimeout(() => sub.unsubscribe(), 5000);
  try {
    const { value, done } = await iterator.next();
    assert.ok(!done, "the subscription ended without an update");
    return value;
  } finally {
    clearTimeout(timer);
  }
}

function chat(msg: ChatMessage) {
  return { from: msg.from, text: msg.text };
}

Deno.test("Client.service calls Room's unary methods and streams Messages as typed messages", async () => {
  await using t = await startServer(registerDemo, {
    transports: ["tcp", "unix"],
  });
  const room = (await t.client()).service(Room);
  const all = await room.messages();
  const fromAda = await room.messages({ from: "ada" });
  const ack = await room.join({ name: "ada" });
  assert.equal(ack.$typeName, "nanorpc_demo.ChatAck");
  await room.send({ text: "hi" });
  assert.deepEqual(chat(await next(all)), { from: "ada", text: "hi" });
  assert.deepEqual(chat(await next(fromAda)), { from: "ada", text: "hi" });

  const other = (await t.client({})).service(Room);
  await other.send({ text: "anonymous" });
  await room.send({ text: "again" });
  assert.deepEqual(chat(await next(all)), {
    from: "anonymous",
    text: "anonymous",
  });
  assert.deepEqual(chat(await next(all)), { from: "ada", text: "again" });
  assert.deepEqual(chat(await next(fromAda)), { from: "ada", text: "again" });
});

Deno.test("Client.service reaches methods without request_path at /<package>.<Service>/<Method>", async () => {
  const { plain } = testServices();
  await using t = await startServer((server) => {
    const registration = server.service(plain, {
      echo: (msg) => {
        const text = (msg as unknown as { text: string }).text;
        registration.publish("watch", { text: `watched ${text}` });
        return { text: `${text}!` };
      },
    });
  });
  const service = (await t.client()).service(plain);
  const echo = service.echo as UnaryClientMethod<DescMessage, DescMessage>;
  const watch = await (service.watch as (
    filter?: object,
  ) => Promise<ClientSubscription<MessageShape<DescMessage>>>)();
  const answer = await echo({ text: "hi" } as never);
  assert.equal((answer as unknown as { text: string }).text, "hi!");
  const update = await next(watch);
  assert.equal((update as unknown as { text: string }).text, "watched hi");
});

Deno.test("Client.service rejects calls to client- and bidi-streaming methods with a ClientError", async () => {
  const { mixed } = testServices();
  await using t = await startServer();
  const service = (await t.client()).service(mixed);
  const upload = service.upload as UnaryClientMethod<DescMessage, DescMessage>;
  await assert.rejects(
    upload(),
    (error) =>
      error instanceof ClientError &&
      /Mixed\.Upload is client-streaming/.test(error.message),
  );
  const talk = service.talk as UnaryClientMethod<DescMessage, DescMessage>;
  await assert.rejects(talk(), /Mixed\.Talk is bidi-streaming/);
});

Deno.test("Client.service fails with NotFoundError when the server does not serve the service", async () => {
  const { plain } = testServices();
  await using t = await startServer(registerDemo);
  const echo = (await t.client()).service(plain).echo as UnaryClientMethod<
    DescMessage,
    DescMessage
  >;
  await assert.rejects(echo(), NotFoundError);
});

Deno.test("Client.service rejects input that does not encode with a ClientError naming the path, without throwing", async () => {
  // proto2 `t2.Req { required string id = 1; }`, served by nobody.
  const file = create(FileDescriptorProtoSchema, {
    name: "t2.proto",
    package: "t2",
    syntax: "proto2",
    messageType: [{
      name: "Req",
      field: [{
        name: "id",
        number: 1,
        type: FieldDescriptorProto_Type.STRING,
        label: FieldDescriptorProto_Label.REQUIRED,
      }],
    }],
    service: [{
      name: "S",
      method: [
        { name: "Get", inputType: ".t2.Req", outputType: ".t2.Req" },
        {
          name: "Watch",
          inputType: ".t2.Req",
          outputType: ".t2.Req",
          serverStreaming: true,
        },
      ],
    }],
  });
  const service = createFileRegistry(file, () => undefined).getService("t2.S")!;
  await using t = await startServer();
  const client = await t.client();
  const typed = client.service(service);
  const get = typed.get as UnaryClientMethod<DescMessage, DescMessage>;
  const missing = (path: string) => (error: unknown) =>
    error instanceof ClientError && error.message.includes(path) &&
    /t2\.Req.*required field not set/.test(error.message);
  await assert.rejects(get({}), missing("/t2.S/Get"));
  const watch = typed.watch as StreamingClientMethod<DescMessage, DescMessage>;
  let watching: Promise<unknown> | undefined;
  assert.doesNotThrow(() => watching = watch({}));
  await assert.rejects(watching!, missing("/t2.S/Watch"));
  const send = client.service(Room).send;
  await assert.rejects(
    send(create(ChatJoinSchema, { name: "ada" }) as never),
    (error) =>
      error instanceof ClientError &&
      /a nanorpc_demo\.ChatJoin where a nanorpc_demo\.ChatMessage is expected/
        .test(error.message),
  );
});
