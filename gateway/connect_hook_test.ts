// The gateway's `session` hook at its edges, mounted in Deno.serve and
// called with fetch and connect-es: hooks that never settle, that throw,
// that settle after their call ended, and clients that leave meanwhile.

import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { Room } from "../proto/gen/chat_pb.ts";
import { registerDemo } from "../server/demo.ts";
import { Server } from "../server/server.ts";
import type { Session } from "../server/session.ts";
import { FakeTime, recordingLogger, waitFor, within } from "../testing/mod.ts";
import { connectGateway, type ConnectGatewayOptions } from "./connect.ts";

/** The demo room on a server of its own, its gateway in `Deno.serve`. */
function start(options: ConnectGatewayOptions, serverOptions = {}) {
  const server = new Server(serverOptions);
  registerDemo(server, "all");
  const calls: string[] = [];
  server.use((ctx, next) => {
    calls.push(ctx.path);
    return next();
  });
  const logger = recordingLogger();
  const gateway = connectGateway(server, {
    services: [Room],
    logger,
    ...options,
  });
  const http = Deno.serve({ port: 0, onListen() {} }, gateway.fetch);
  return {
    server,
    calls,
    logger,
    base: `http://127.0.0.1:${http.addr.port}`,
    async [Symbol.asyncDispose]() {
      await http.shutdown();
      await server.shutdown();
    },
  };
}

function send(
  base: string,
  headers = {},
  signal?: AbortSignal,
  text = "hi",
) {
  return fetch(`${base}/nanorpc_demo.Room/Send`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ text }),
    signal,
  });
}

/** A hook that keeps every session it is given and never settles. */
function stuckHook() {
  const sessions: Session[] = [];
  const hook = (session: Session) => {
    sessions.push(session);
    return new Promise<void>(() => {});
  };
  return { sessions, hook };
}

Deno.test("connectGateway waits for a session hook no longer than the server's handlerTimeout when sessionTimeoutMs is not given", async () => {
  const stuck = stuckHook();
  await using t = start({ session: stuck.hook }, { handlerTimeout: 150 });
  assert.equal(t.server.handlerTimeout, 150);
  const res = await within(send(t.base), { message: "the Connect answer" });
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.code, "deadline_exceeded");
  assert.match(body.message, /within 150 ms; retry later/);
});

Deno.test("connectGateway still bounds a session hook's wait by 30 s when the server's handlers have no time limit", async () => {
  const stuck = stuckHook();
  await using t = start({ session: stuck.hook }, { handlerTimeout: 0 });
  assert.equal(t.server.handlerTimeout, 0);
  using time = new FakeTime();
  const client = new AbortController();
  const answer = send(t.base, {}, client.signal);
  try {
    await waitFor(() => time.nextDelay === 30_000, {
      message: "the hook's 30 s limit to be armed",
    });
    await time.tickAsync(30_000);
    const res = await within(answer, { message: "the Connect answer" });
    assert.equal(res.status, 504);
    assert.match((await res.json()).message, /within 30000 ms; retry later/);
  } finally {
    client.abort(); // else a hook with no limit would hold the shutdown
    await answer.catch(() => {});
  }
});

Deno.test("connectGateway answers deadline_exceeded within sessionTimeoutMs when the session hook never settles, and closes its session", async () => {
  const stuck = stuckHook();
  await using t = start({ session: stuck.hook, sessionTimeoutMs: 200 });
  const started = performance.now();
  const res = await within(send(t.base), { message: "the Connect answer" });
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.code, "deadline_exceeded");
  assert.match(body.message, /within 200 ms; retry later/);
  assert.doesNotMatch(body.message, /hook/);
  assert.ok(performance.now() - started >= 190);
  // gRPC-Web answers with its own status for the same limit.
  const room = createClient(Room, createGrpcWebTransport({ baseUrl: t.base }));
  await assert.rejects(
    within(room.send({ text: "hi" }), { message: "the gRPC-Web answer" }),
    (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.DeadlineExceeded, error.message);
      return true;
    },
  );
  await waitFor(() => t.server.sessions.size === 0, {
    message: "the stuck calls' sessions to close",
  });
  assert.equal(stuck.sessions.length, 2);
  assert.ok(stuck.sessions.every((s) => s.closed && s.signal.aborted));
  assert.deepEqual(t.calls, []);
  assert.ok(
    t.logger.at("warn").some((l) =>
      l.includes("/room/send: the gateway's session hook did not settle")
    ),
  );
});

Deno.test("connectGateway bounds the session hook by the client's connect-timeout-ms when it sends one", async () => {
  const stuck = stuckHook();
  await using t = start({ session: stuck.hook, sessionTimeoutMs: 60_000 });
  const res = await within(send(t.base, { "connect-timeout-ms": "150" }), {
    message: "the answer after the client's timeout",
  });
  assert.equal(res.status, 504);
  assert.equal((await res.json()).code, "deadline_exceeded");
  await waitFor(() => t.server.sessions.size === 0, {
    message: "the call's session to close",
  });
  assert.ok(stuck.sessions[0].signal.aborted);
});

Deno.test("connectGateway closes the call's session when the HTTP client aborts while the session hook is pending", async () => {
  const stuck = stuckHook();
  await using t = start({ session: stuck.hook });
  const before = t.server.sessions.size;
  const abort = new AbortController();
  const call = send(t.base, {}, abort.signal);
  await waitFor(() => stuck.sessions.length === 1, {
    message: "the hook to be called",
  });
  assert.equal(t.server.sessions.size, before + 1);
  abort.abort();
  await assert.rejects(call, { name: "AbortError" });
  await waitFor(() => t.server.sessions.size === before, {
    message: "the aborted call's session to close",
  });
  assert.ok(stuck.sessions[0].signal.aborted);
  assert.deepEqual(t.calls, []);
});

Deno.test("connectGateway answers internal without the hook's text when the session hook throws, and logs it", async () => {
  await using t = start({
    session() {
      throw new Error("db password hunter2");
    },
  });
  const res = await send(t.base);
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.equal(body.code, "internal");
  assert.doesNotMatch(body.message, /hunter2/);
  assert.match(body.message, /see the server's log/);
  assert.ok(t.logger.at("error").some((l) => l.includes("hunter2")));
  await waitFor(() => t.server.sessions.size === 0, {
    message: "the call's session to close",
  });
  assert.deepEqual(t.calls, []);
});

Deno.test("connectGateway ignores a session hook that resolves or throws after its call ended", async () => {
  const release = Promise.withResolvers<void>();
  let late = 0;
  await using t = start({
    sessionTimeoutMs: 100,
    async session(session, request) {
      if (request.headers.get("x-fast")) return;
      await release.promise;
      try {
        // Late, the session is closed: bind throws.
        if (request.headers.get("x-late") === "bind") session.bind("late");
      } finally {
        late++;
      }
    },
  });
  for (const mode of ["bind", "resolve"]) {
    const res = await send(t.base, { "x-late": mode });
    assert.equal((await res.json()).code, "deadline_exceeded");
  }
  await waitFor(() => t.server.sessions.size === 0, {
    message: "the timed-out calls' sessions to close",
  });
  release.resolve();
  await waitFor(() => late === 2, { message: "the late hooks to settle" });
  assert.equal(t.server.sessionByUid("late"), undefined);
  assert.deepEqual(t.calls, []);
  // The gateway goes on serving.
  const ok = await send(t.base, { "x-fast": "1" });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.deepEqual(t.calls, ["/room/send"]);
});

Deno.test("connectGateway answers resource_exhausted for a frame over maxMessageSize without running the session hook", async () => {
  let hooked = 0;
  await using t = start({
    session() {
      hooked++;
    },
  }, { maxMessageSize: 1024 });
  const res = await send(t.base, {}, undefined, "x".repeat(1012));
  assert.equal(res.status, 429);
  assert.equal((await res.json()).code, "resource_exhausted");
  await waitFor(() => {
    const { sessionsOpened, sessionsRefused } = t.server.stats();
    return sessionsOpened + sessionsRefused === 1 &&
      t.server.sessions.size === 0;
  }, { message: "the call's session to end" });
  assert.equal(hooked, 0);
  assert.deepEqual(t.calls, []);
});
