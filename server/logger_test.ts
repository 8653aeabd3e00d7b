// What the default logger leaves behind: V8 keeps the arguments of the
// last 1,000 console calls, and an error keeps the functions of its stack
// with their closures, so logging errors as they are kept whatever those
// closures held (a failed handler's whole session) alive.

import assert from "node:assert/strict";
import { countSurvivors } from "../testing/_gc_child.ts";

/** In a child with --expose-gc: `body`, then how many of `refs` live. */
function survivors(body: string): Promise<{ alive: number; of: number }> {
  return countSurvivors(`
    import { InProcessBroker, leveledLogger, Server } from ${
    JSON.stringify(import.meta.resolve("./mod.ts"))
  };
    import { RawClient } from ${
    JSON.stringify(import.meta.resolve("../testing/raw_client.ts"))
  };
    import { textConsole } from ${
    JSON.stringify(import.meta.resolve("./logger.ts"))
  };
    ${body}
  `);
}

Deno.test("leveledLogger gives the console errors as text, so it keeps nothing their stacks reached alive", async () => {
  const { alive, of } = await survivors(`
    const logger = leveledLogger("error");
    const logFailure = (i) => {
      const held = { i };
      refs.push(new WeakRef(held));
      const fail = function () { void held; throw new Error("boom"); };
      try { fail.call(held); } catch (err) { logger.error("failed:", err); }
    };
    for (let i = 0; i < 20; i++) logFailure(i);
  `);
  assert.equal(of, 20);
  assert.equal(alive, 0, `${alive} objects reached by logged errors live on`);
});

Deno.test("Server lets the sessions whose handlers threw be collected once they closed", async () => {
  const { alive, of } = await survivors(`
    const server = new Server({ logLevel: "error" });
    // The error's stack runs through middleware, whose closures hold ctx.
    server.use((_ctx, next) => next());
    server.handle("/fails", (ctx) => {
      refs.push(new WeakRef(ctx.session));
      throw new Error("a bug in the handler");
    });
    const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.connect(listener.addr);
      await client.send({ requestId: 1, requestType: 2 /* REQUEST */,
        pathOneof: { case: "path", value: "/fails" } });
      if ((await client.read()).responseStatus !== 4) throw new Error("not INTERNAL_ERROR");
      client.close();
    }
    while (server.sessions.size > 0) await new Promise((r) => setTimeout(r, 5));
    await server.shutdown();
  `);
  assert.equal(of, 20);
  assert.equal(alive, 0, `${alive} closed sessions live on in the log`);
});

Deno.test("textConsole gives the console errors as text, so it keeps nothing their stacks reached alive", async () => {
  const { alive, of } = await survivors(`
    const logFailure = (i) => {
      const held = { i };
      refs.push(new WeakRef(held));
      const fail = function () { void held; throw new Error("boom"); };
      try { fail.call(held); } catch (err) { textConsole.error("failed:", err); }
    };
    for (let i = 0; i < 20; i++) logFailure(i);
  `);
  assert.equal(of, 20);
  assert.equal(alive, 0, `${alive} objects reached by logged errors live on`);
});

Deno.test("InProcessBroker lets a subscriber that threw be collected once disposed", async () => {
  const { alive, of } = await survivors(`
    const broker = new InProcessBroker();
    // A session's uid channel: the subscriber's closure holds the session.
    const failOnce = (i) => {
      const session = { i, outbox: new Uint8Array(1024) };
      refs.push(new WeakRef(session));
      const sub = broker.subscribe("uid:" + i, function () {
        void session;
        throw new Error("a bug in a subscriber");
      });
      broker.publish("uid:" + i, { path: "/p", data: new Uint8Array(1) });
      sub[Symbol.dispose]();
    };
    for (let i = 0; i < 20; i++) failOnce(i);
  `);
  assert.equal(of, 20);
  assert.equal(alive, 0, `${alive} disposed subscribers live on in the log`);
});
