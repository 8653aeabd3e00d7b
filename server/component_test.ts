import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { REQUEST, startServer } from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import { componentHandlers, componentName } from "./component.ts";
import type { Context } from "./context.ts";

/** Calls a discovered handler of a method that ignores its context. */
function call(handlers: Map<string, unknown>, path: string): unknown {
  const handler = handlers.get(path);
  assert.equal(typeof handler, "function", `no handler at ${path}`);
  return (handler as (ctx: Context) => unknown)({} as Context);
}

Deno.test("componentName drops a trailing Component and lowercases the first letter", () => {
  class RoomComponent {}
  class Score {}
  class Component {}
  class HTTPBridgeComponent {}
  assert.equal(componentName(new RoomComponent()), "room");
  assert.equal(componentName(new Score()), "score");
  assert.equal(componentName(new Component()), "component");
  assert.equal(componentName(new HTTPBridgeComponent()), "hTTPBridge");
});

Deno.test("componentName refuses an anonymous component and says to pass a name", () => {
  const anonymous = [
    { ping: () => "pong" },
    new (class {})(),
    Object.create(null),
  ];
  for (const component of anonymous) {
    assert.throws(
      () => componentName(component),
      /Anonymous component: pass \{ name \} to register\(\)/,
    );
  }
  // With a name, an object literal is a component.
  const handlers = componentHandlers({ ping: () => "pong" }, { name: "misc" });
  assert.deepEqual([...handlers.keys()], ["/misc/ping"]);
});

Deno.test("componentHandlers finds the methods of the whole prototype chain, the nearest first", () => {
  class BaseComponent {
    hello() {
      return "base hello";
    }
    shared() {
      return "base shared";
    }
  }
  class GameComponent extends BaseComponent {
    #moves = 0;
    move() {
      return `move ${++this.#moves}`;
    }
    override shared() {
      return "game shared";
    }
  }
  const handlers = componentHandlers(new GameComponent());
  assert.deepEqual([...handlers.keys()].sort(), [
    "/game/hello",
    "/game/move",
    "/game/shared",
  ]);
  assert.equal(call(handlers, "/game/shared"), "game shared");
  assert.equal(call(handlers, "/game/hello"), "base hello");
  // Handlers are bound: the component's own state is `this`.
  assert.equal(call(handlers, "/game/move"), "move 1");
  assert.equal(call(handlers, "/game/move"), "move 2");
});

Deno.test("componentHandlers skips lifecycle hooks, _names, fields that are not functions and built-ins", () => {
  class LobbyComponent extends EventTarget {
    players = 3;
    greeting = "hi";
    onJoin = () => "joined";
    init() {}
    afterInit() {}
    beforeShutdown() {}
    shutdown() {}
    _helper() {
      return "internal";
    }
    count() {
      return String(this.players);
    }
  }
  const handlers = componentHandlers(new LobbyComponent());
  assert.deepEqual([...handlers.keys()].sort(), [
    "/lobby/count",
    "/lobby/onJoin",
  ]);
  assert.equal(call(handlers, "/lobby/count"), "3");
  assert.equal(call(handlers, "/lobby/onJoin"), "joined");
});

Deno.test("componentHandlers names paths with the name option and nameFunc", () => {
  class ChatComponent {
    sendMessage() {}
    listRooms() {}
  }
  const snake = (m: string) =>
    m.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const handlers = componentHandlers(new ChatComponent(), {
    name: "talk",
    nameFunc: snake,
  });
  assert.deepEqual([...handlers.keys()].sort(), [
    "/talk/list_rooms",
    "/talk/send_message",
  ]);
});

Deno.test("Server.register calls a method with a schema as method(input, ctx) and encodes its output", async () => {
  class GreeterComponent {
    greet(join: { name: string }, ctx: Context) {
      return { from: ctx.path, text: `hello ${join.name}` };
    }
    raw(ctx: Context) {
      return ctx.data;
    }
  }
  await using t = await startServer((server) => {
    server.register(new GreeterComponent(), {
      schemas: { greet: { input: ChatJoinSchema, output: ChatMessageSchema } },
    });
  });
  const peer = await t.connectRaw();
  const join = toBinary(
    ChatJoinSchema,
    create(ChatJoinSchema, { name: "ada" }),
  );
  const greeted = await peer.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/greeter/greet" },
    data: join,
  });
  assert.equal(greeted.responseStatus, Status.OK);
  const message = fromBinary(ChatMessageSchema, greeted.data);
  assert.deepEqual([message.from, message.text], [
    "/greeter/greet",
    "hello ada",
  ]);
  // A method without a schema still gets the context.
  const raw = await peer.call({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/greeter/raw" },
    data: join,
  });
  assert.deepEqual(raw.data, join);
  const bad = await peer.call({
    requestId: 3,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/greeter/greet" },
    data: new Uint8Array([0x0a, 5, 1]),
  });
  assert.equal(bad.responseStatus, Status.INTERNAL_ERROR);
  assert.match(bad.responseMessage, /not a valid nanorpc[._]demo\.ChatJoin/);
});

Deno.test("componentHandlers reads no accessor (a getter may need init() first) and serves only methods", () => {
  class Store {
    #db: string | undefined;
    init() {
      this.#db = "ready";
    }
    get db(): string {
      if (!this.#db) throw new Error("db used before init()");
      return this.#db;
    }
    read() {
      return this.db;
    }
  }
  const handlers = componentHandlers(new Store());
  assert.deepEqual([...handlers.keys()], ["/store/read"]);
});

Deno.test("componentHandlers refuses two methods that nameFunc maps to one path", () => {
  class Things {
    getX() {}
    getx() {}
  }
  assert.throws(
    () => componentHandlers(new Things(), { nameFunc: (m) => m.toLowerCase() }),
    /Two methods of component things map to \/things\/getx/,
  );
});
