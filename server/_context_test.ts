import assert from "node:assert/strict";
import { newContext, RequestContext, SubscribeContext } from "./_context.ts";
import { Router } from "./_router.ts";
import type { Session } from "./session.ts";

const session = { id: 1 } as unknown as Session;
const route = new Router().route("/chat/join");

Deno.test("newContext gives a REQUEST's kind and a SUBSCRIBE's from the class", () => {
  const data = new Uint8Array([1, 2]);
  const request = newContext("request", session, route, 7, data);
  const subscribe = newContext("subscribe", session, route, 8, data);
  assert.ok(request instanceof RequestContext);
  assert.ok(subscribe instanceof SubscribeContext);
  assert.equal(request.kind, "request");
  assert.equal(subscribe.kind, "subscribe");
  assert.equal(request.path, "/chat/join");
  assert.equal(subscribe.requestId, 8);
  assert.equal(subscribe.data, data);
});

Deno.test("RequestContext keeps startedAt and trace only once they are set", () => {
  const ctx = new RequestContext(session, route, 1, new Uint8Array());
  assert.equal(ctx.startedAt, undefined);
  assert.equal(ctx.trace, undefined);
  ctx.startedAt = 12.5;
  ctx.trace = "trace";
  assert.equal(ctx.startedAt, 12.5);
  assert.equal(ctx.trace, "trace");
  ctx.startedAt = undefined;
  assert.equal(ctx.startedAt, undefined);
  assert.equal(ctx.trace, "trace");
  ctx.state.set("k", 1);
  assert.equal(ctx.state.get("k"), 1);
});
