// Middleware misuse over real sockets: a middleware that does not await
// next(), calls it twice, or handles its failure. None of them may crash
// the server or answer before the handler has.

import assert from "node:assert/strict";
import { pathRequest, startServer, SUBSCRIBE } from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Middleware that calls next() without awaiting it answers with the handler's outcome, and a failure does not crash the server", async () => {
  let topicSize = () => -1;
  await using t = await startServer((server) => {
    const topic = server.topic("/t");
    topicSize = () => topic.size;
    server.handle("/slow", async () => {
      await sleep(10);
      return "slow answer";
    });
    server.handle("/boom", async () => {
      await sleep(10);
      throw new Error("boom");
    });
    server.handle("/sync-boom", () => {
      throw new Error("sync boom");
    });
    server.use((_ctx, next) => {
      next(); // Not awaited, nor returned.
    });
  });
  const p = await t.connectRaw();
  const slow = await p.call(pathRequest(1, "/slow", text("x")));
  assert.deepEqual([slow.responseStatus, decode(slow.data)], [
    Status.OK,
    "slow answer",
  ]);
  const boom = await p.call(pathRequest(2, "/boom", text("x")));
  assert.equal(boom.responseStatus, Status.INTERNAL_ERROR);
  // Failed before the middleware returned: still the handler's outcome.
  const syncBoom = await p.call(pathRequest(4, "/sync-boom", text("x")));
  assert.equal(syncBoom.responseStatus, Status.INTERNAL_ERROR);
  const sub = await p.call(pathRequest(3, "/t", new Uint8Array(), SUBSCRIBE));
  assert.equal(sub.responseStatus, Status.OK);
  assert.equal(topicSize(), 1);
});

Deno.test("Middleware that calls next() twice gets INTERNAL_ERROR, awaited or not", async () => {
  let runs = 0;
  await using t = await startServer((server) => {
    server.handle("/x", () => {
      runs++;
      return "x";
    });
    server.use(async (ctx, next) => {
      if (ctx.data[0] === 1) {
        await next();
        await next();
      } else {
        next();
        next();
      }
    });
  });
  const p = await t.connectRaw();
  for (const id of [1, 2]) {
    const r = await p.call(pathRequest(id, "/x", new Uint8Array([id])));
    assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
  }
  assert.equal(runs, 2);
  await sleep(10); // A rejection nobody handled would fail the test here.
});

Deno.test("Middleware that catches the handler's failure answers with its own body", async () => {
  await using t = await startServer((server) => {
    server.handle("/boom", async () => {
      await sleep(5);
      throw new Error("boom");
    });
    server.use(async (ctx, next) => {
      try {
        await next();
      } catch {
        ctx.body = "fallback";
      }
    });
  });
  const p = await t.connectRaw();
  const r = await p.call(pathRequest(1, "/boom", text("x")));
  assert.deepEqual([r.responseStatus, decode(r.data)], [Status.OK, "fallback"]);
});

Deno.test("Middleware that calls next() and then throws answers with its error once the handler has settled, its failure not left unhandled", async () => {
  let handlerDone = 0;
  await using t = await startServer((server) => {
    server.handle("/boom", async () => {
      await sleep(10);
      handlerDone++;
      throw new Error("boom");
    });
    server.use((_ctx, next) => {
      next();
      throw "not an Error";
    });
  });
  const p = await t.connectRaw();
  const r = await p.call(pathRequest(1, "/boom", text("x")));
  assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
  // Answered after the handler (which may read ctx.data until then).
  assert.equal(handlerDone, 1);
  const again = await p.call(pathRequest(2, "/boom", text("x")));
  assert.equal(again.responseStatus, Status.INTERNAL_ERROR);
  assert.equal(handlerDone, 2);
});

Deno.test("Middleware that calls next() without awaiting it and outlives the handler still answers with the handler's failure", async () => {
  await using t = await startServer((server) => {
    server.handle("/boom", async () => {
      await sleep(5);
      throw new Error("boom");
    });
    server.use(async (_ctx, next) => {
      next();
      await sleep(40);
    });
  });
  const p = await t.connectRaw();
  const r = await p.call(pathRequest(1, "/boom", text("x")));
  assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
});

Deno.test("server.use() refuses what is not a function where it is registered", async () => {
  await using t = await startServer();
  assert.throws(
    () => t.server.use((_ctx, next) => next(), "auth" as never),
    { name: "TypeError", message: /argument 2 is string/ },
  );
  // Nothing of the refused call was kept: requests are not broken.
  t.server.handle("/x", () => "x");
  const p = await t.connectRaw();
  const r = await p.call(pathRequest(1, "/x", text("x")));
  assert.equal(r.responseStatus, Status.OK);
});
