// Regressions: what a server must survive or refuse — half-done
// subscriptions, handlers outliving their time limit, throwing callbacks,
// shutdown races — each found by review and reproduced here first.

import assert from "node:assert/strict";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { type Broker, InProcessBroker } from "./broker.ts";
import { concat, frame, listenForTest, silent } from "./_testing.ts";
import { Server } from "./server.ts";

const { REQUEST, SUBSCRIBE, PING } = RequestType;
const text = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const req = (
  requestId: number,
  path: string,
  data = new Uint8Array(),
  requestType: number = REQUEST,
) => ({
  requestId,
  requestType,
  pathOneof: { case: "path" as const, value: path },
  data,
});

const start = listenForTest;

Deno.test("A SUBSCRIBE whose session closes while middleware waits leaves no subscription", async () => {
  const server = new Server({ logger: silent, idleTimeout: 50 });
  const topic = server.topic("/t");
  server.use(async (_ctx, next) => {
    await sleep(200);
    await next();
  });
  await using t = await start(server);
  const p = await t.peer();
  await p.send(req(1, "/t", new Uint8Array(), SUBSCRIBE));
  assert.ok(await p.closedByServer(3000));
  await sleep(250);
  assert.deepEqual([server.stats().subscriptions, topic.size], [0, 0]);
});

Deno.test("A SUBSCRIBE that times out or fails after next() is not subscribed", async () => {
  const server = new Server({ logger: silent, handlerTimeout: 50 });
  const topic = server.topic("/t");
  server.use(async (ctx, next) => {
    if (ctx.data[0] === 1) await sleep(200);
    await next();
    if (ctx.data[0] === 2) throw new Error("audit log unavailable");
  });
  await using t = await start(server);
  const p = await t.peer();
  const slow = await p.call(req(1, "/t", new Uint8Array([1]), SUBSCRIBE));
  assert.equal(slow.responseStatus, Status.INTERNAL_ERROR);
  const failed = await p.call(req(2, "/t", new Uint8Array([2]), SUBSCRIBE));
  assert.equal(failed.responseStatus, Status.INTERNAL_ERROR);
  await sleep(250);
  assert.deepEqual([server.stats().subscriptions, topic.size], [0, 0]);
  server.publish("/t", text("nobody"));
  assert.equal(
    (await p.call({ requestId: 3, requestType: PING })).responseType,
    ResponseType.PONG,
  );
});

Deno.test("No UPDATE overtakes the ack of its SUBSCRIBE", async () => {
  const server = new Server({ logger: silent });
  server.topic("/t");
  server.use(async (_ctx, next) => {
    await next();
    server.publish("/t", text("early"));
    await sleep(20);
  });
  await using t = await start(server);
  const p = await t.peer();
  await p.send(req(7, "/t", new Uint8Array(), SUBSCRIBE));
  const first = await p.read();
  assert.deepEqual([first.requestId, first.responseType], [
    7,
    ResponseType.RESPONSE,
  ]);
});

Deno.test("A handler past its time limit keeps reading its own ctx.data", async () => {
  const server = new Server({ logger: silent, handlerTimeout: 30 });
  const seen = Promise.withResolvers<string>();
  server.handle("/slow", async (ctx) => {
    await sleep(150);
    seen.resolve(new TextDecoder().decode(ctx.data));
  });
  server.handle("/echo", (ctx) => ctx.data);
  await using t = await start(server);
  const p = await t.peer();
  assert.equal(
    (await p.call(req(1, "/slow", text("AAAAAAAA")))).responseStatus,
    Status.INTERNAL_ERROR,
  );
  for (let i = 0; i < 5; i++) {
    await p.call(req(2 + i, "/echo", text("BBBBBBBB")));
  }
  assert.equal(await seen.promise, "AAAAAAAA");
});

Deno.test("Session.push copies, so pushing ctx.data survives the read buffer's reuse", async () => {
  const server = new Server({ logger: silent });
  server.topic("/inbox");
  const sessions: import("./session.ts").Session[] = [];
  server.handle("/hello", (ctx) => void sessions.push(ctx.session));
  server.handle("/forward", (ctx) => void sessions[1].push("/inbox", ctx.data));
  await using t = await start(server);
  const a = await t.peer();
  const b = await t.peer();
  await a.call(req(1, "/hello"));
  await b.call(req(1, "/hello"));
  await b.call(req(2, "/inbox", new Uint8Array(), SUBSCRIBE));
  const forward = frame(req(3, "/forward", text("hello from a, intact")));
  const tail = frame(req(4, "/forward", text("Z".repeat(64))));
  await a.write(concat(forward, tail.subarray(0, tail.length - 10)));
  assert.equal(
    new TextDecoder().decode((await b.read()).data),
    "hello from a, intact",
  );
});

Deno.test("Throwing filters and broker channels do not take the server down", async () => {
  const broker: Broker = {
    dropped: 0,
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
    publish: (c, m) => inner.publish(c, m),
    subscribe(channel, deliver) {
      const sub = inner.subscribe(channel, deliver);
      return {
        [Symbol.dispose]() {
          sub[Symbol.dispose]();
          throw new Error("broker connection closed");
        },
      };
    },
  };
  const inner = new InProcessBroker();
  const server = new Server({ logger: silent, broker });
  server.topic<Uint8Array, Uint8Array>("/t", {
    filter: (filter) => {
      if (filter[0] === 1) throw new Error("filter bug");
      return true;
    },
  });
  server.handle("/me", (ctx) => ctx.session.bind("me"));
  await using t = await start(server);
  const a = await t.peer();
  const b = await t.peer();
  await a.call(req(1, "/t", new Uint8Array([1]), SUBSCRIBE));
  await b.call(req(1, "/t", new Uint8Array([2]), SUBSCRIBE));
  await a.call(req(2, "/me"));
  server.publish("/t", text("x"));
  assert.deepEqual((await b.read()).data, text("x"));
  a.close();
  for (let i = 0; i < 100 && server.stats().sessions > 1; i++) await sleep(10);
  assert.equal(server.stats().sessions, 1);
  assert.equal(
    (await b.call({ requestId: 9, requestType: PING })).requestId,
    9,
  );
});

Deno.test("Server.shutdown releases its broker channels and closes its groups", async () => {
  const inner = new InProcessBroker();
  let open = 0;
  const broker: Broker = {
    dropped: 0,
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
    publish: (c, m) => inner.publish(c, m),
    subscribe(channel, deliver) {
      open++;
      const sub = inner.subscribe(channel, deliver);
      return {
        [Symbol.dispose]() {
          open--;
          sub[Symbol.dispose]();
        },
      };
    },
  };
  const server = new Server({ logger: silent, broker });
  server.topic("/a");
  server.topic("/b");
  server.group("lobby");
  assert.equal(open, 3);
  await server.listen({ port: 0 });
  await server.shutdown();
  assert.equal(open, 0);
});

Deno.test("Server.listen racing shutdown binds nothing, and a throwing hook does not stop shutdown", async () => {
  const server = new Server({ logger: silent });
  server.register({
    beforeShutdown: () => Promise.reject(new Error("hook bug")),
    ping: () => "pong",
  }, {
    name: "x",
  });
  const first = await server.listen({ port: 0 });
  const late = server.listen({ port: 0 }).then(
    () => "bound",
    (e: Error) => e.message,
  );
  await server.shutdown();
  assert.match(await late, /shutting down/);
  const { hostname, port } = first.addr as Deno.NetAddr;
  await assert.rejects(Deno.connect({ hostname, port }));
});

Deno.test("Updates never take the room a response needs", async () => {
  const server = new Server({ logger: silent, outgoingBufferSize: 64 * 1024 });
  server.topic("/t");
  server.handle("/echo", (ctx) => ctx.data);
  await using t = await start(server);
  const p = await t.peer();
  await p.call(req(1, "/t", new Uint8Array(), SUBSCRIBE));
  // The peer does not read while far more than the buffer is published.
  const chunk = new Uint8Array(1024);
  for (let i = 0; i < 4096; i++) server.publish("/t", chunk);
  await p.send(req(2, "/echo", new Uint8Array(2048)));
  let answered = false;
  for (let i = 0; i < 5000 && !answered; i++) {
    const r = await p.read();
    answered = r.requestId === 2 && r.responseType === ResponseType.RESPONSE;
  }
  assert.ok(answered);
  assert.equal(server.stats().overflowCloses, 0);
  assert.ok(server.stats().droppedUpdates > 0);
});

Deno.test("Session.signal carries the close reason; components skip built-in methods; long messages are cut", async () => {
  const server = new Server({ logger: silent });
  class TargetComponent extends EventTarget {
    hit() {
      return "hit";
    }
  }
  server.register(new TargetComponent());
  let reason: unknown;
  server.handle("/kick", (ctx) => {
    const signal = ctx.session.signal;
    ctx.session.close("kicked by admin").then(() => reason = signal.reason);
  });
  server.handle("/long", () => {
    throw new Error("x".repeat(100_000));
  });
  await using t = await start(server);
  const p = await t.peer();
  assert.equal((await p.call(req(1, "/target/hit"))).responseStatus, Status.OK);
  assert.equal(
    (await p.call(req(2, "/target/dispatchEvent"))).responseStatus,
    Status.NOT_FOUND,
  );
  const long = await p.call(req(3, "/long"));
  assert.equal(long.responseStatus, Status.INTERNAL_ERROR);
  assert.ok(long.responseMessage.length < 2000);
  await p.send(req(4, "/kick"));
  assert.ok(await p.closedByServer());
  for (let i = 0; i < 100 && reason === undefined; i++) await sleep(10);
  assert.equal(reason, "kicked by admin");
});

Deno.test("Middleware that does not call next refuses a SUBSCRIBE instead of acking nothing", async () => {
  const server = new Server({ logger: silent });
  const topic = server.topic("/t");
  server.handle("/cached", () => "from the handler");
  server.use((ctx, next) => {
    if (ctx.path === "/cached") {
      ctx.body = "from the cache";
      return;
    }
    if (ctx.kind === "subscribe") return;
    return next();
  });
  await using t = await start(server);
  const p = await t.peer();
  const sub = await p.call(req(1, "/t", new Uint8Array(), SUBSCRIBE));
  assert.equal(sub.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(sub.responseMessage, /refused by middleware/);
  assert.equal(topic.size, 0);
  const cached = await p.call(req(2, "/cached"));
  assert.equal(new TextDecoder().decode(cached.data), "from the cache");
});

Deno.test("The idle clock starts again when a long handler finishes", async () => {
  const server = new Server({ logger: silent, idleTimeout: 150 });
  server.handle("/slow", async () => {
    await sleep(400);
    return "done";
  });
  await using t = await start(server);
  const p = await t.peer();
  assert.equal((await p.call(req(1, "/slow"))).responseStatus, Status.OK);
  await sleep(50);
  assert.equal(
    (await p.call({ requestId: 2, requestType: PING })).requestId,
    2,
  );
  assert.equal(server.stats().idleCloses, 0);
});
