// The application model: components, middleware, typed handlers, handler
// ordering and concurrency, session events, idle sessions, and TLS.

import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { NanoRpcError, NotAuthorizedError } from "../protocol/errors.ts";
import {
  certificates,
  concat,
  FakeTime,
  Gate,
  hasOpenssl,
  pathRequest,
  PING,
  RawClient,
  requestFrame,
  startServer,
  SUBSCRIBE,
  waitFor,
  within,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { Context } from "./context.ts";
import { Server } from "./server.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

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
  {
    await using t = await startServer((server) => {
      server.register(new ScoreComponent());
      server.register({ ping: () => "pong" }, {
        name: "misc",
        nameFunc: (m) => m.toUpperCase(),
      });
      assert.throws(
        () => server.register({ x: () => {} }),
        /Anonymous component/,
      );
    });
    assert.deepEqual(calls, ["init", "afterInit"]);
    const peer = await t.connectRaw();
    assert.equal(
      str(
        (await peer.call(pathRequest(1, "/score/add", new Uint8Array([5]))))
          .data,
      ),
      "5",
    );
    assert.equal(
      str(
        (await peer.call(pathRequest(2, "/score/add", new Uint8Array([2]))))
          .data,
      ),
      "7",
    );
    assert.equal(
      (await peer.call(pathRequest(3, "/score/_hidden"))).responseStatus,
      Status.NOT_FOUND,
    );
    assert.equal(
      (await peer.call(pathRequest(4, "/score/init"))).responseStatus,
      Status.NOT_FOUND,
    );
    assert.equal(
      str((await peer.call(pathRequest(5, "/misc/PING"))).data),
      "pong",
    );
  }
  assert.deepEqual(calls, ["init", "afterInit", "beforeShutdown", "shutdown"]);
});

Deno.test("Server.handle with schemas decodes input and encodes output", async () => {
  await using t = await startServer((server) => {
    server.handle(
      "/greet",
      { input: ChatJoinSchema, output: ChatMessageSchema },
      (join) => ({ from: "server", text: `hello ${join.name}` }),
    );
  });
  const peer = await t.connectRaw();
  const r = await peer.call(
    pathRequest(
      1,
      "/greet",
      toBinary(ChatJoinSchema, create(ChatJoinSchema, { name: "ada" })),
    ),
  );
  assert.equal(fromBinary(ChatMessageSchema, r.data).text, "hello ada");
  const bad = await peer.call(
    pathRequest(2, "/greet", new Uint8Array([0x0a, 5, 1])),
  );
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
  await using t = await startServer((server) => {
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
  });
  const peer = await t.connectRaw();
  assert.equal(str((await peer.call(pathRequest(1, "/me"))).data), "ada");
  const refused = await peer.call(pathRequest(2, "/admin"));
  assert.deepEqual([refused.responseStatus, refused.responseMessage], [
    Status.NOT_AUTHORIZED,
    "Log in first",
  ]);
  const sub = await peer.call({
    ...pathRequest(3, "/feed"),
    requestType: SUBSCRIBE,
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
  const slowStarted = new Gate();
  const slowRelease = new Gate();
  const sideRelease = new Gate();
  await using t = await startServer((server) => {
    server.handle("/slow", async (ctx) => {
      slowStarted.open();
      await slowRelease.opened;
      return ctx.data;
    });
    server.handle("/fast", (ctx) => ctx.data);
    server.handle("/side", async (ctx) => {
      await sideRelease.opened;
      return ctx.data;
    }, { concurrent: true });
  });
  const peer = await t.connectRaw();
  await peer.write(
    concat(
      requestFrame(pathRequest(1, "/slow", text("1"))),
      requestFrame(pathRequest(2, "/fast", text("2"))),
    ),
  );
  // /fast, read with /slow, waits for it: nothing is answered meanwhile.
  await slowStarted.opened;
  assert.equal(t.server.stats().framesOut, 0, "/fast overtook /slow");
  slowRelease.open();
  assert.deepEqual([
    (await peer.read()).requestId,
    (await peer.read()).requestId,
  ], [1, 2]);
  // A concurrent handler does not hold /fast: its answer comes first
  // while /side is still held.
  await peer.write(
    concat(
      requestFrame(pathRequest(3, "/side", text("3"))),
      requestFrame(pathRequest(4, "/fast", text("4"))),
    ),
  );
  assert.equal((await peer.read()).requestId, 4);
  sideRelease.open();
  const side = await peer.read();
  assert.equal(side.requestId, 3);
  assert.equal(
    str(side.data),
    "3",
    "a concurrent handler's data is a copy that outlives the read",
  );
});

Deno.test("A handler's NanoRpcError status and message reach the peer", async () => {
  await using t = await startServer((server) => {
    server.handle("/gone", () => {
      throw new NanoRpcError(Status.NOT_FOUND, "That item was deleted");
    });
    server.handle("/later", () => Promise.reject(new Error("database down")));
    server.handle("/bad", () => 42 as unknown as Uint8Array);
  });
  const peer = await t.connectRaw();
  const gone = await peer.call(pathRequest(1, "/gone"));
  assert.deepEqual([gone.responseStatus, gone.responseMessage], [
    Status.NOT_FOUND,
    "That item was deleted",
  ]);
  const later = await peer.call(pathRequest(2, "/later"));
  assert.equal(later.responseStatus, Status.INTERNAL_ERROR);
  assert.match(later.responseMessage, /\/later failed \(reference \w{8}\)/);
  assert.ok(!later.responseMessage.includes("database down"));
  const bad = await peer.call(pathRequest(3, "/bad"));
  assert.equal(bad.responseStatus, Status.INTERNAL_ERROR);
  assert.match(bad.responseMessage, /not Uint8Array or string/);
});

Deno.test("Server fires sessionopen and sessionclose and keeps session attributes", async () => {
  const events: string[] = [];
  const closed = Promise.withResolvers<string>();
  await using t = await startServer((server) => {
    server.addEventListener(
      "sessionopen",
      (e) => events.push(`open ${e.session.transport}`),
    );
    server.addEventListener(
      "sessionclose",
      (e) => closed.resolve(e.reason),
    );
    server.handle("/set", (ctx) => ctx.session.set("n", str(ctx.data)));
    server.handle("/get", (ctx) => ctx.session.get<string>("n") ?? "none");
  });
  const peer = await t.connectRaw();
  await peer.call(pathRequest(1, "/set", text("v")));
  assert.equal(str((await peer.call(pathRequest(2, "/get"))).data), "v");
  peer.close();
  assert.equal(
    await within(closed.promise, { message: "sessionclose" }),
    "peer closed the connection",
  );
  assert.deepEqual(events, ["open tcp"]);
});

Deno.test({
  name: "Server serves TLS when given a certificate and key",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { ca, cert, key } = await certificates(dir);
      await using t = await startServer((server) => {
        server.handle("/echo", (ctx) => ctx.data);
      }, { tls: { cert, key } });
      assert.match(t.url, /^tls:\/\/127\.0\.0\.1:\d+$/);
      using peer = new RawClient(
        await Deno.connectTls({
          hostname: "localhost",
          port: t.tcp!.port,
          caCerts: [ca],
        }),
      );
      assert.deepEqual(
        (await peer.call(pathRequest(1, "/echo", text("secure")))).data,
        text("secure"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("Server closes a session idle for longer than idleTimeout, and a frame restarts the clock", async () => {
  using time = new FakeTime();
  await using t = await startServer(undefined, { idleTimeout: 100 });
  const { server } = t;
  const peer = await t.connectRaw();
  assert.equal(
    (await peer.call({ requestId: 1, requestType: PING })).requestId,
    1,
  );
  await time.tickAsync(100);
  assert.equal(server.stats().idleCloses, 0, "closed at idleTimeout");
  // A frame is activity: the clock starts again.
  assert.equal(
    (await peer.call({ requestId: 2, requestType: PING })).requestId,
    2,
  );
  await time.tickAsync(100);
  assert.equal(server.stats().idleCloses, 0, "a frame did not restart it");
  // The sweep runs at least every idleTimeout / 2.
  await time.tickAsync(50);
  assert.equal(await peer.closedByServer(), true);
  assert.equal(server.stats().idleCloses, 1);
  assert.equal(server.stats().sessions, 0);
});

Deno.test("Context.signal aborts when the handler times out or the session ends", async () => {
  const reasons: unknown[] = [];
  const ended = Promise.withResolvers<void>();
  await using t = await startServer((server) => {
    server.handle("/hang", (ctx) => {
      ctx.signal.addEventListener(
        "abort",
        () => reasons.push(ctx.signal.reason),
      );
      return new Promise(() => {});
    });
    server.handle("/hold", (ctx) => {
      ctx.signal.addEventListener("abort", () => ended.resolve());
      return new Promise(() => {});
    }, { concurrent: true, timeout: 0 });
  }, { handlerTimeout: 50 });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  const peer = await t.connectRaw();
  const answer = peer.call(pathRequest(1, "/hang"));
  await waitFor(() => time.nextDelay === 50, { message: "the time limit" });
  await time.tickAsync(50);
  const r = await answer;
  assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
  assert.match(r.responseMessage, /did not finish within 50 ms/);
  assert.equal(reasons.length, 1);
  assert.match(String(reasons[0]), /did not finish within 50 ms/);
  await peer.send(pathRequest(2, "/hold"));
  await peer.call({ requestId: 3, requestType: PING });
  assert.equal(time.pending, 0, "a handler with timeout 0 got a time limit");
  peer.close();
  await within(ended.promise, { message: "the abort at session end" });
});
