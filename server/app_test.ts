// The application model: components, middleware, typed handlers, handler
// ordering and concurrency, session events, and TLS.

import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { NanoRpcError, NotAuthorizedError } from "../protocol/errors.ts";
import { RequestType, Status } from "../wasm/wire.ts";
import { certificates, concat, frame, RawPeer, silent } from "./_testing.ts";
import type { Context } from "./context.ts";
import { Server } from "./server.ts";
import type { SessionEvent } from "./options.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const req = (requestId: number, path: string, data = new Uint8Array()) => ({
  requestId,
  requestType: RequestType.REQUEST,
  pathOneof: { case: "path" as const, value: path },
  data,
});

async function serve(server: Server) {
  const listener = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(listener.addr);
  return {
    peer,
    async [Symbol.asyncDispose]() {
      peer.close();
      await server.shutdown();
    },
  };
}

Deno.test("Server.register turns a component's methods into /<name>/<method> handlers", async () => {
  const calls: string[] = [];
  class ScoreComponent {
    #points = 0;
    init() {
      calls.push("init");
    }
    afterInit() {
      calls.push("afterInit");
    }
    beforeShutdown() {
      calls.push("beforeShutdown");
    }
    shutdown() {
      calls.push("shutdown");
    }
    add(ctx: Context) {
      this.#points += ctx.data[0];
      return String(this.#points);
    }
    _hidden() {
      return "no";
    }
  }
  const server = new Server({ logger: silent });
  server.register(new ScoreComponent());
  server.register({ ping: () => "pong" }, {
    name: "misc",
    nameFunc: (m) => m.toUpperCase(),
  });
  assert.throws(() => server.register({ x: () => {} }), /Anonymous component/);
  {
    await using t = await serve(server);
    assert.deepEqual(calls, ["init", "afterInit"]);
    assert.equal(
      str((await t.peer.call(req(1, "/score/add", new Uint8Array([5])))).data),
      "5",
    );
    assert.equal(
      str((await t.peer.call(req(2, "/score/add", new Uint8Array([2])))).data),
      "7",
    );
    assert.equal(
      (await t.peer.call(req(3, "/score/_hidden"))).responseStatus,
      Status.NOT_FOUND,
    );
    assert.equal(
      (await t.peer.call(req(4, "/score/init"))).responseStatus,
      Status.NOT_FOUND,
    );
    assert.equal(str((await t.peer.call(req(5, "/misc/PING"))).data), "pong");
  }
  assert.deepEqual(calls, ["init", "afterInit", "beforeShutdown", "shutdown"]);
});

Deno.test("Server.handle with schemas decodes input and encodes output", async () => {
  const server = new Server({ logger: silent });
  server.handle(
    "/greet",
    { input: ChatJoinSchema, output: ChatMessageSchema },
    (join) => ({
      from: "server",
      text: `hello ${join.name}`,
    }),
  );
  await using t = await serve(server);
  const r = await t.peer.call(
    req(
      1,
      "/greet",
      toBinary(ChatJoinSchema, create(ChatJoinSchema, { name: "ada" })),
    ),
  );
  assert.equal(fromBinary(ChatMessageSchema, r.data).text, "hello ada");
  const bad = await t.peer.call(req(2, "/greet", new Uint8Array([0x0a, 5, 1])));
  assert.equal(bad.responseStatus, Status.INTERNAL_ERROR);
  assert.match(bad.responseMessage, /not a valid nanorpc[._]demo\.ChatJoin/);
});

Deno.test("Server.handle refuses a second handler and a colliding hash", () => {
  const server = new Server();
  server.handle("/a", () => {});
  assert.throws(
    () => server.handle("/a", () => {}),
    /already registered at \/a/,
  );
  assert.throws(
    () => server.handle("no-slash", () => {}),
    /paths start with "\/"/,
  );
  // Found by a birthday search: both hash to 0xe0bebf67.
  server.handle("/p4uzx", () => {});
  assert.throws(
    () => server.topic("/pf2ad"),
    /\/pf2ad has the same FNV-1a hash \(0xe0bebf67\) as the registered path \/p4uzx/,
  );
});

Deno.test("Middleware runs in order around handlers and can refuse", async () => {
  const order: string[] = [];
  const server = new Server({ logger: silent });
  server.use(async (ctx, next) => {
    order.push(`a:${ctx.path}`);
    await next();
    order.push("a:after");
  });
  server.use((ctx, next) => {
    if (ctx.path === "/admin") throw new NotAuthorizedError("Log in first");
    ctx.state.set("user", "ada");
    return next();
  });
  server.handle("/admin", () => "secret");
  server.handle("/me", (ctx) => String(ctx.state.get("user")));
  server.topic("/feed");
  await using t = await serve(server);
  assert.equal(str((await t.peer.call(req(1, "/me"))).data), "ada");
  const refused = await t.peer.call(req(2, "/admin"));
  assert.deepEqual([refused.responseStatus, refused.responseMessage], [
    Status.NOT_AUTHORIZED,
    "Log in first",
  ]);
  const sub = await t.peer.call({
    ...req(3, "/feed"),
    requestType: RequestType.SUBSCRIBE,
  });
  assert.equal(sub.responseStatus, Status.OK);
  assert.deepEqual(order, [
    "a:/me",
    "a:after",
    "a:/admin",
    "a:/feed",
    "a:after",
  ]);
});

Deno.test("Server answers a session's requests in order, unless a handler is concurrent", async () => {
  const server = new Server({ logger: silent });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  server.handle("/slow", async (ctx) => {
    await sleep(30);
    return ctx.data;
  });
  server.handle("/fast", (ctx) => ctx.data);
  server.handle("/side", async (ctx) => {
    await sleep(30);
    return ctx.data;
  }, { concurrent: true });
  await using t = await serve(server);
  await t.peer.write(
    concat(
      frame(req(1, "/slow", text("1"))),
      frame(req(2, "/fast", text("2"))),
    ),
  );
  assert.deepEqual([
    (await t.peer.read()).requestId,
    (await t.peer.read()).requestId,
  ], [1, 2]);
  await t.peer.write(
    concat(
      frame(req(3, "/side", text("3"))),
      frame(req(4, "/fast", text("4"))),
    ),
  );
  const first = await t.peer.read();
  const second = await t.peer.read();
  assert.deepEqual([first.requestId, second.requestId], [4, 3]);
  assert.equal(
    str(second.data),
    "3",
    "a concurrent handler's data is a copy that outlives the read",
  );
});

Deno.test("A handler's NanoRpcError status and message reach the peer", async () => {
  const server = new Server({ logger: silent });
  server.handle("/gone", () => {
    throw new NanoRpcError(Status.NOT_FOUND, "That item was deleted");
  });
  server.handle("/later", () => Promise.reject(new Error("database down")));
  server.handle("/bad", () => 42 as unknown as Uint8Array);
  await using t = await serve(server);
  const gone = await t.peer.call(req(1, "/gone"));
  assert.deepEqual([gone.responseStatus, gone.responseMessage], [
    Status.NOT_FOUND,
    "That item was deleted",
  ]);
  const later = await t.peer.call(req(2, "/later"));
  assert.equal(later.responseStatus, Status.INTERNAL_ERROR);
  assert.match(later.responseMessage, /\/later failed \(reference \w{8}\)/);
  assert.ok(!later.responseMessage.includes("database down"));
  const bad = await t.peer.call(req(3, "/bad"));
  assert.equal(bad.responseStatus, Status.INTERNAL_ERROR);
  assert.match(bad.responseMessage, /not Uint8Array or string/);
});

Deno.test("Server fires sessionopen and sessionclose and keeps session attributes", async () => {
  const server = new Server({ logger: silent });
  const events: string[] = [];
  server.addEventListener(
    "sessionopen",
    (e) => events.push(`open ${(e as SessionEvent).session.transport}`),
  );
  const closed = Promise.withResolvers<string>();
  server.addEventListener(
    "sessionclose",
    (e) => closed.resolve((e as SessionEvent).reason),
  );
  server.handle("/set", (ctx) => ctx.session.set("n", str(ctx.data)));
  server.handle("/get", (ctx) => ctx.session.get<string>("n") ?? "none");
  await using t = await serve(server);
  await t.peer.call(req(1, "/set", text("v")));
  assert.equal(str((await t.peer.call(req(2, "/get"))).data), "v");
  t.peer.close();
  assert.equal(await closed.promise, "peer closed the connection");
  assert.deepEqual(events, ["open tcp"]);
});

Deno.test("Server serves TLS when given a certificate and key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ca, cert, key } = await certificates(dir);
    const server = new Server({ logger: silent });
    server.handle("/echo", (ctx) => ctx.data);
    const listener = await server.listen({
      port: 0,
      cert,
      key,
    });
    assert.match(listener.url, /^tls:\/\/127\.0\.0\.1:\d+$/);
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port: (listener.addr as Deno.NetAddr).port,
      caCerts: [ca],
    });
    const peer = new RawPeer(conn);
    assert.deepEqual(
      (await peer.call(req(1, "/echo", text("secure")))).data,
      text("secure"),
    );
    peer.close();
    await server.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Server closes a session that sent no frame within idleTimeout", async () => {
  const server = new Server({ logger: silent, idleTimeout: 100 });
  await using t = await serve(server);
  assert.equal(
    (await t.peer.call({ requestId: 1, requestType: RequestType.PING }))
      .requestId,
    1,
  );
  assert.ok(await t.peer.closedByServer(3000));
  assert.equal(server.stats().idleCloses, 1);
});

Deno.test("Context.signal aborts when the handler times out or the session ends", async () => {
  const server = new Server({ logger: silent, handlerTimeout: 50 });
  const reasons: unknown[] = [];
  const ended = Promise.withResolvers<void>();
  server.handle("/hang", (ctx) => {
    ctx.signal.addEventListener("abort", () => reasons.push(ctx.signal.reason));
    return new Promise(() => {});
  });
  server.handle("/hold", (ctx) => {
    ctx.signal.addEventListener("abort", () => ended.resolve());
    return new Promise(() => {});
  }, { concurrent: true, timeout: 0 });
  await using t = await serve(server);
  const r = await t.peer.call(req(1, "/hang"));
  assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
  assert.match(r.responseMessage, /did not finish within 50 ms/);
  assert.equal(reasons.length, 1);
  await t.peer.send(req(2, "/hold"));
  await t.peer.call({ requestId: 3, requestType: RequestType.PING });
  t.peer.close();
  await ended.promise;
});
