// Session.sendUpdate only for live subscriptions: what middleware sends
// while a SUBSCRIBE is handled follows its ack, nothing follows an
// unsubscribe ack, and an unknown id sends nothing.

import assert from "node:assert/strict";
import {
  PING,
  PONG,
  REQUEST,
  RESPONSE,
  startServer,
  SUBSCRIBE,
  UPDATE,
} from "../testing/mod.ts";
import { NotAuthorizedError } from "../protocol/errors.ts";
import { Status } from "../wasm/wire.ts";
import type { Session } from "./session.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const subscribe = (requestId: number, path: string) => ({
  requestId,
  requestType: SUBSCRIBE,
  pathOneof: { case: "path" as const, value: path },
});

Deno.test("Session.sendUpdate from middleware during a SUBSCRIBE goes out after its ack", async () => {
  await using t = await startServer((server) => {
    server.use(async (ctx, next) => {
      if (ctx.kind !== "subscribe") return next();
      ctx.session.sendUpdate(ctx.requestId, text("before next"));
      await Promise.resolve(); // An async middleware, like a snapshot read.
      await next();
      ctx.session.sendUpdate(ctx.requestId, text("after next"));
    });
    server.topic("/news");
  });
  const peer = await t.connectRaw();
  await peer.send(subscribe(7, "/news"));
  const got = [];
  for (let i = 0; i < 3; i++) {
    const r = await peer.read();
    got.push([r.requestId, r.responseType, str(r.data)]);
  }
  assert.deepEqual(got, [
    [7, RESPONSE, ""],
    [7, UPDATE, "before next"],
    [7, UPDATE, "after next"],
  ]);
  t.server.publish("/news", text("live"));
  assert.equal(str((await peer.read()).data), "live");
});

Deno.test("Session.sendUpdate during a SUBSCRIBE that is then refused sends nothing and counts the drop", async () => {
  await using t = await startServer((server) => {
    server.use((ctx, next) => {
      if (ctx.kind !== "subscribe") return next();
      assert.equal(ctx.session.sendUpdate(ctx.requestId, text("x")), true);
      throw new NotAuthorizedError("not for you");
    });
    server.topic("/news");
  });
  const peer = await t.connectRaw();
  const refused = await peer.call(subscribe(7, "/news"));
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  const pong = await peer.call({ requestId: 8, requestType: PING });
  assert.deepEqual([pong.requestId, pong.responseType], [8, PONG]);
  assert.equal(t.server.stats().droppedUpdates, 1);
});

Deno.test("Session.sendUpdate refuses an id with no subscription, and after the unsubscribe ack", async () => {
  let session: Session | undefined;
  await using t = await startServer((server) => {
    server.handle("/who", (ctx) => void (session = ctx.session));
    server.topic("/news");
  });
  const peer = await t.connectRaw();
  await peer.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/who" },
  });
  assert.equal(session!.sendUpdate(5, text("never subscribed")), false);
  assert.equal((await peer.call(subscribe(5, "/news"))).requestId, 5);
  assert.equal(session!.sendUpdate(5, text("live")), true);
  assert.equal(str((await peer.read()).data), "live");
  const unsub = await peer.call({
    requestId: 5,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/news" },
  });
  assert.equal(unsub.responseStatus, Status.OK);
  assert.equal(session!.sendUpdate(5, text("too late")), false);
  const pong = await peer.call({ requestId: 9, requestType: PING });
  assert.equal(pong.requestId, 9, "no UPDATE came after the unsubscribe ack");
});
