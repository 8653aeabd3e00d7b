// The Connect gateway at its limits, over real sockets: refusals that must
// not leak the server's reasons, bodies near maxMessageSize, long client
// timeouts, reflection reloads, and keepalives behind a stalled stream.
// Session hooks that never settle, throw or settle late:
// connect_hook_test.ts.

import assert from "node:assert/strict";
import { Room } from "../proto/gen/chat_pb.ts";
import { NotAuthorizedError } from "../protocol/errors.ts";
import { REFLECTION_PATH } from "../protocol/service.ts";
import { registerDemo } from "../server/demo.ts";
import { recordingLogger, startServer, waitFor } from "../testing/mod.ts";
import { connectGateway, type ConnectGatewayOptions } from "./connect.ts";
import type { StartServerOptions } from "../testing/server.ts";
import { stalledStream } from "./_test_utils.ts";

/** The demo room on TCP, and the gateway on an HTTP listener. */
async function start(
  serverOptions: StartServerOptions = {},
  options: ConnectGatewayOptions = {},
) {
  const t = await startServer(
    (server) => registerDemo(server, "all"),
    serverOptions,
  );
  const logger = recordingLogger();
  const gateway = connectGateway(t.server, {
    services: [Room],
    logger,
    ...options,
  });
  const http = await t.server.listen({
    http: { port: 0, fallback: gateway.fetch },
  });
  return Object.assign(t, { base: http.url, gateway, logger });
}

function send(base: string, body: string, headers = {}) {
  return fetch(`${base}/nanorpc_demo.Room/Send`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("connectGateway keeps a throwing handshake hook's text out of the 503 and logs it", async () => {
  await using t = await start({
    handshake(info) {
      if (info.remoteAddr.transport === "gateway") {
        throw new Error("db password hunter2");
      }
    },
  });
  const res = await send(t.base, '{"text":"hi"}');
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.code, "unavailable");
  assert.doesNotMatch(body.message, /hunter2|handshake/);
  assert.match(body.message, /retry shortly/);
  assert.ok(t.logger.lines.some((l) => l.includes("hunter2")));
});

Deno.test("connectGateway keeps maxSessions out of the 503 and logs it", async () => {
  await using t = await start({ maxSessions: 1 });
  await t.client();
  const res = await send(t.base, '{"text":"hi"}');
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.doesNotMatch(body.message, /maxSessions/);
  assert.ok(t.logger.lines.some((l) => l.includes("maxSessions (1)")));
});

Deno.test("connectGateway answers resource_exhausted, not a retryable 503, for a body whose frame is over maxMessageSize", async () => {
  await using t = await start({ maxMessageSize: 1024 });
  const seen: number[] = [];
  for (const n of [900, 990, 1005, 1012]) {
    const res = await send(t.base, JSON.stringify({ text: "x".repeat(n) }));
    seen.push(res.status);
    const body = await res.json();
    if (res.status !== 200) assert.equal(body.code, "resource_exhausted");
  }
  assert.deepEqual(seen, [200, 200, 429, 429]);
  assert.equal(t.server.stats().sessionsRefused, 0);
});

Deno.test("connectGateway never turns a connect-timeout-ms over the longest timer into an instant deadline_exceeded", async () => {
  for (const maxTimeoutMs of [undefined, 9_999_999_999]) {
    await using t = await start({}, { maxTimeoutMs });
    const ok = await send(t.base, '{"text":"a"}', {
      "connect-timeout-ms": "2147483647",
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const long = await send(t.base, '{"text":"a"}', {
      "connect-timeout-ms": "3000000000",
    });
    const body = await long.json();
    assert.notEqual(body.code, "deadline_exceeded");
    assert.notEqual(long.status, 200);
  }
});

Deno.test("connectGateway keeps serving from its table while reflection is reread, and keeps it when the reread fails", async () => {
  const gate = Promise.withResolvers<void>();
  let closed = false;
  let reads = 0;
  await using t = await start({}, { services: undefined });
  t.server.use(async (ctx, next) => {
    if (ctx.path === REFLECTION_PATH) {
      reads++;
      if (closed) {
        await gate.promise;
        throw new NotAuthorizedError("Reflection is closed now");
      }
    }
    return next();
  });
  const first = await send(t.base, '{"text":"a"}');
  assert.equal(first.status, 200);
  await first.body?.cancel();
  assert.equal(reads, 1);
  // Rereads happen at most once a second: let that second pass.
  const readAt = performance.now();
  await waitFor(() => performance.now() - readAt > 1050);
  closed = true;
  const unknown = fetch(`${t.base}/nanorpc_test.Nope/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  await waitFor(() => reads === 2);
  // A known method does not wait for the reread.
  const known = await send(t.base, '{"text":"b"}');
  assert.equal(known.status, 200);
  await known.body?.cancel();
  gate.resolve();
  const missing = await unknown;
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  // The failed reread kept the table and the once-a-second limit.
  const again = await send(t.base, '{"text":"c"}');
  assert.equal(again.status, 200);
  await again.body?.cancel();
  const other = await fetch(`${t.base}/nanorpc_test.Nope/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(other.status, 404);
  await other.body?.cancel();
  assert.equal(reads, 2);
  assert.ok(t.logger.lines.some((l) => l.includes("reread reflection")));
});

Deno.test("connectGateway queues no keepalive pings behind a stream its server has stopped reading", async () => {
  await using t = await start({ outgoingBufferSize: 64 * 1024 }, {
    keepaliveMs: 20,
  });
  // The HTTP client reads nothing: its session's buffer fills, and the
  // server stops reading the session once a PONG passes half of it.
  const res = await stalledStream(t.base, t.server, await t.client());
  // PONGs fill the room updates left, up to half the buffer: then the
  // server stops reading the session.
  let stalled = -1;
  for (let i = 0; i < 50 && t.server.stats().framesIn !== stalled; i++) {
    stalled = t.server.stats().framesIn;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // 50 keepalive periods pass while the server reads nothing.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(t.server.stats().framesIn, stalled);
  // The client reads again: the server reads what the gateway sent meanwhile.
  const reader = res.body!.getReader();
  const reading = (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  await waitFor(() => t.server.stats().framesIn > stalled, {
    message: "the server to read again",
  });
  // What waited is read at once (the old code queued one PING per period:
  // ~50 here); a new one comes every 20 ms, so a slow machine adds a few.
  const read = t.server.stats().framesIn - stalled;
  assert.ok(read <= 20, `${read} frames were waiting for the server`);
  await reader.cancel();
  await reading;
});

Deno.test("connectGateway reads reflection bigger than twice maxMessageSize, and serves through it", async () => {
  // The demo's reflection (its .proto files) is over 10 KiB.
  await using t = await start({ maxMessageSize: 1024 }, {
    services: undefined,
  });
  const res = await send(t.base, '{"text":"hi"}');
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), {});
  assert.ok((await t.gateway.methods()).some((m) => m.path === "/room/send"));
});

Deno.test("connectGateway keeps a quiet stream alive under a server idleTimeout shorter than its default keepalive", async () => {
  await using t = await start({ idleTimeout: 300 });
  const client = await t.client();
  const room = client.service(Room);
  const response = fetch(`${t.base}/nanorpc_demo.Room/Messages`, {
    method: "POST",
    headers: { "content-type": "application/connect+json" },
    body: new Uint8Array([0, 0, 0, 0, 2, 0x7b, 0x7d]), // one envelope: {}
  });
  await waitFor(() => t.server.sessions.size === 2, {
    message: "the stream's session",
  });
  await room.send({ text: "first" }); // its headers go out with it
  const reader = (await response).body!.getReader();
  const decoder = new TextDecoder();
  let seen = decoder.decode((await reader.read()).value);
  // Quiet for several idle periods; the TCP client pings on its own.
  const ping = setInterval(() => client.ping().catch(() => {}), 100);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await room.send({ text: "still here" });
    while (!seen.includes("still here")) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended: ${seen}`);
      seen += decoder.decode(value);
    }
    assert.doesNotMatch(seen, /unavailable|idle/);
  } finally {
    clearInterval(ping);
    await reader.cancel();
  }
});
