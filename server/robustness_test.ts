// Regressions: what a server must survive or refuse — half-done
// subscriptions, handlers outliving their time limit, throwing callbacks,
// shutdown races — each found by review and reproduced here first.

import assert from "node:assert/strict";
import {
  concat,
  FakeTime,
  Gate,
  pathRequest,
  PING,
  PONG,
  requestFrame,
  RESPONSE,
  silentLogger,
  startServer,
  SUBSCRIBE,
  waitFor,
  within,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import { type Broker, InProcessBroker } from "./broker.ts";
import { Server } from "./server.ts";
import type { Session } from "./session.ts";
import type { ServerSession } from "./_session.ts";
import type { Topic } from "./topic.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Opens `gate` when disposed: a failed test must not leave a handler held. */
function openOnExit(gate: Gate): Disposable {
  return { [Symbol.dispose]: () => gate.open() };
}

Deno.test("A SUBSCRIBE whose session closes while middleware waits leaves no subscription", async () => {
  const gate = new Gate();
  let waiting = false;
  let topic: Topic | undefined;
  await using t = await startServer((server) => {
    topic = server.topic("/t");
    server.use(async (_ctx, next) => {
      waiting = true;
      await gate.opened;
      await next();
    });
  });
  using _open = openOnExit(gate);
  const p = await t.connectRaw();
  await p.send(pathRequest(1, "/t", new Uint8Array(), SUBSCRIBE));
  await waitFor(() => waiting, { message: "the middleware to wait" });
  const session = t.server.sessions.values().next().value as ServerSession;
  await session.close("kicked while subscribing");
  assert.ok(await p.closedByServer());
  // The SUBSCRIBE goes on to its end on a closed session.
  gate.open();
  await waitFor(() => !session.busy, { message: "the SUBSCRIBE to end" });
  assert.deepEqual([t.server.stats().subscriptions, topic!.size], [0, 0]);
});

Deno.test("A SUBSCRIBE that times out or fails after next() is not subscribed", async () => {
  const gate = new Gate();
  const returned: number[] = [];
  let topic: Topic | undefined;
  await using t = await startServer((server) => {
    topic = server.topic("/t");
    server.use(async (ctx, next) => {
      if (ctx.data[0] === 1) await gate.opened;
      await next();
      returned.push(ctx.requestId);
      if (ctx.data[0] === 2) throw new Error("audit log unavailable");
    });
  }, { handlerTimeout: 50 });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  using _open = openOnExit(gate);
  const p = await t.connectRaw();
  const slowAnswer = p.call(
    pathRequest(1, "/t", new Uint8Array([1]), SUBSCRIBE),
  );
  await waitFor(() => time.nextDelay === 50, { message: "the time limit" });
  await time.tickAsync(50);
  const slow = await slowAnswer;
  assert.equal(slow.responseStatus, Status.INTERNAL_ERROR);
  assert.match(slow.responseMessage, /did not finish within 50 ms/);
  // The late SUBSCRIBE reaches its topic after its time limit.
  gate.open();
  await waitFor(() => returned.includes(1), { message: "next() to return" });
  const failed = await p.call(
    pathRequest(2, "/t", new Uint8Array([2]), SUBSCRIBE),
  );
  assert.equal(failed.responseStatus, Status.INTERNAL_ERROR);
  assert.deepEqual(returned, [1, 2]);
  assert.equal(
    (await p.call({ requestId: 3, requestType: PING })).responseType,
    PONG,
  );
  assert.deepEqual([t.server.stats().subscriptions, topic!.size], [0, 0]);
  t.server.publish("/t", text("nobody"));
  assert.equal(
    (await p.call({ requestId: 4, requestType: PING })).requestId,
    4,
    "an update reached a subscription that was refused",
  );
});

Deno.test("No UPDATE overtakes the ack of its SUBSCRIBE", async () => {
  await using t = await startServer((server) => {
    server.topic("/t");
    server.use(async (_ctx, next) => {
      await next();
      // Published after the topic accepted the subscriber, before the ack.
      server.publish("/t", text("early"));
    });
  });
  const p = await t.connectRaw();
  await p.send(pathRequest(7, "/t", new Uint8Array(), SUBSCRIBE));
  const first = await p.read();
  assert.deepEqual([first.requestId, first.responseType], [7, RESPONSE]);
});

Deno.test("A handler past its time limit keeps reading its own ctx.data", async () => {
  const gate = new Gate();
  const seen = Promise.withResolvers<string>();
  await using t = await startServer((server) => {
    server.handle("/slow", async (ctx) => {
      await gate.opened;
      seen.resolve(new TextDecoder().decode(ctx.data));
    });
    server.handle("/echo", (ctx) => ctx.data);
  }, { handlerTimeout: 30 });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  using _open = openOnExit(gate);
  const p = await t.connectRaw();
  const answer = p.call(pathRequest(1, "/slow", text("AAAAAAAA")));
  await waitFor(() => time.nextDelay === 30, { message: "the time limit" });
  await time.tickAsync(30);
  assert.equal((await answer).responseStatus, Status.INTERNAL_ERROR);
  // Later reads land in the read buffer the slow handler's data came from.
  for (let i = 0; i < 5; i++) {
    await p.call(pathRequest(2 + i, "/echo", text("BBBBBBBB")));
  }
  gate.open();
  assert.equal(await within(seen.promise), "AAAAAAAA");
});

Deno.test("Session.push copies, so pushing ctx.data survives the read buffer's reuse", async () => {
  const sessions: Session[] = [];
  await using t = await startServer((server) => {
    server.topic("/inbox");
    server.handle("/hello", (ctx) => void sessions.push(ctx.session));
    server.handle(
      "/forward",
      (ctx) => void sessions[1].push("/inbox", ctx.data),
    );
  });
  const a = await t.connectRaw();
  const b = await t.connectRaw();
  await a.call(pathRequest(1, "/hello"));
  await b.call(pathRequest(1, "/hello"));
  await b.call(pathRequest(2, "/inbox", new Uint8Array(), SUBSCRIBE));
  const forward = requestFrame(
    pathRequest(3, "/forward", text("hello from a, intact")),
  );
  const tail = requestFrame(pathRequest(4, "/forward", text("Z".repeat(64))));
  await a.write(concat(forward, tail.subarray(0, tail.length - 10)));
  assert.equal(
    new TextDecoder().decode((await b.read()).data),
    "hello from a, intact",
  );
});

Deno.test("Throwing filters and broker channels do not take the server down", async () => {
  const inner = new InProcessBroker();
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
  await using t = await startServer((server) => {
    server.topic<Uint8Array, Uint8Array>("/t", {
      filter: (filter) => {
        if (filter[0] === 1) throw new Error("filter bug");
        return true;
      },
    });
    server.handle("/me", (ctx) => ctx.session.bind("me"));
  }, { broker });
  const { server } = t;
  const a = await t.connectRaw();
  const b = await t.connectRaw();
  await a.call(pathRequest(1, "/t", new Uint8Array([1]), SUBSCRIBE));
  await b.call(pathRequest(1, "/t", new Uint8Array([2]), SUBSCRIBE));
  await a.call(pathRequest(2, "/me"));
  server.publish("/t", text("x"));
  assert.deepEqual((await b.read()).data, text("x"));
  a.close();
  await waitFor(() => server.stats().sessions === 1, {
    message: "the session with the throwing uid channel to close",
  });
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
  const server = new Server({ logger: silentLogger, broker });
  server.topic("/a");
  server.topic("/b");
  server.group("lobby");
  assert.equal(open, 3);
  await using t = await startServer(server);
  await t.stop();
  assert.equal(open, 0);
});

Deno.test("Server.listen racing shutdown binds nothing, and a throwing hook does not stop shutdown", async () => {
  const server = new Server({ logger: silentLogger });
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
  await using t = await startServer((server) => {
    server.topic("/t");
    server.handle("/echo", (ctx) => ctx.data);
  }, { outgoingBufferSize: 64 * 1024 });
  const { server } = t;
  const p = await t.connectRaw();
  await p.call(pathRequest(1, "/t", new Uint8Array(), SUBSCRIBE));
  // The peer does not read while far more than the buffer is published.
  const chunk = new Uint8Array(1024);
  for (let i = 0; i < 4096; i++) server.publish("/t", chunk);
  await p.send(pathRequest(2, "/echo", new Uint8Array(2048)));
  let answered = false;
  for (let i = 0; i < 5000 && !answered; i++) {
    const r = await p.read();
    answered = r.requestId === 2 && r.responseType === RESPONSE;
  }
  assert.ok(answered);
  assert.equal(server.stats().overflowCloses, 0);
  assert.ok(server.stats().droppedUpdates > 0);
});

Deno.test("Session.signal carries the close reason; components skip built-in methods; long messages are cut", async () => {
  let reason: unknown;
  await using t = await startServer((server) => {
    class TargetComponent extends EventTarget {
      hit() {
        return "hit";
      }
    }
    server.register(new TargetComponent());
    server.handle("/kick", (ctx) => {
      const signal = ctx.session.signal;
      ctx.session.close("kicked by admin").then(() => reason = signal.reason);
    });
    server.handle("/long", () => {
      throw new Error("x".repeat(100_000));
    });
  });
  const p = await t.connectRaw();
  assert.equal(
    (await p.call(pathRequest(1, "/target/hit"))).responseStatus,
    Status.OK,
  );
  assert.equal(
    (await p.call(pathRequest(2, "/target/dispatchEvent"))).responseStatus,
    Status.NOT_FOUND,
  );
  const long = await p.call(pathRequest(3, "/long"));
  assert.equal(long.responseStatus, Status.INTERNAL_ERROR);
  assert.ok(long.responseMessage.length < 2000);
  await p.send(pathRequest(4, "/kick"));
  assert.ok(await p.closedByServer());
  await waitFor(() => reason !== undefined, { message: "the close to end" });
  assert.equal(reason, "kicked by admin");
});

Deno.test("Middleware that does not call next refuses a SUBSCRIBE instead of acking nothing", async () => {
  let topic: Topic | undefined;
  await using t = await startServer((server) => {
    topic = server.topic("/t");
    server.handle("/cached", () => "from the handler");
    server.use((ctx, next) => {
      if (ctx.path === "/cached") {
        ctx.body = "from the cache";
        return;
      }
      if (ctx.kind === "subscribe") return;
      return next();
    });
  });
  const p = await t.connectRaw();
  const sub = await p.call(pathRequest(1, "/t", new Uint8Array(), SUBSCRIBE));
  assert.equal(sub.responseStatus, Status.NOT_AUTHORIZED);
  assert.match(sub.responseMessage, /refused by middleware/);
  assert.equal(topic!.size, 0);
  const cached = await p.call(pathRequest(2, "/cached"));
  assert.equal(new TextDecoder().decode(cached.data), "from the cache");
});

Deno.test("The idle clock starts again when a long handler finishes", async () => {
  using time = new FakeTime();
  const gate = new Gate();
  let started = false;
  await using t = await startServer((server) => {
    server.handle("/slow", async () => {
      started = true;
      await gate.opened;
      return "done";
    });
  }, { idleTimeout: 150 });
  using _open = openOnExit(gate);
  const { server } = t;
  const p = await t.connectRaw();
  const answer = p.call(pathRequest(1, "/slow"));
  await waitFor(() => started, { message: "the handler to start" });
  // A handler running far longer than idleTimeout keeps its session.
  await time.tickAsync(1000);
  assert.equal(server.stats().idleCloses, 0, "closed while a handler ran");
  gate.open();
  assert.equal((await answer).responseStatus, Status.OK);
  // The idle clock starts when the handler ends, not when its frame came.
  await time.tickAsync(150);
  assert.equal(
    server.stats().idleCloses,
    0,
    "closed too soon after the handler",
  );
  await time.tickAsync(75);
  assert.equal(await p.closedByServer(), true);
  assert.equal(server.stats().idleCloses, 1);
});
