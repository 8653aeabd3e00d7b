// Handlers that throw, reject or hang past their time limit  answer STATUS_INTERNAL_ERROR with a message, and the session —
// and every other session — goes on.

import assert from "node:assert/strict";
import { NanoRpcError } from "../protocol/errors.ts";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { concat, frame, RawPeer, type RequestInit } from "./_testing.ts";
import type { Logger } from "./logger.ts";
import { Server } from "./server.ts";

const encoder = new TextEncoder();

function request(id: number, path: string, data = new Uint8Array()) {
  return {
    requestId: id,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "path", value: path },
    data,
  } satisfies RequestInit;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  return { lines, error: keep, warn: keep, info: keep, debug: keep };
}

/** The whole message a peer gets for an unexpected exception at `path`. */
function generic(path: string): RegExp {
  return new RegExp(
    `^Handler for ${path} failed \\(reference \\w{8}\\); the server log has the details$`,
  );
}

/** A server whose handlers fail in every way, plus `/echo`. */
function failingServer(logger: Logger, aborted: string[]): Server {
  const server = new Server({ handlerTimeout: 100, logger });
  server.handle("/echo", (ctx) => ctx.data);
  server.handle("/throw", () => {
    throw new Error("boom");
  });
  server.handle("/throw-string", () => {
    throw "a plain string";
  });
  server.handle("/reject", async () => {
    await Promise.resolve();
    throw new Error("rejected later");
  });
  server.handle("/reject-raw", () => Promise.reject(new RangeError("raw")));
  server.handle("/hang", (ctx) => {
    ctx.signal.addEventListener("abort", () => aborted.push(ctx.path));
    return new Promise<undefined>(() => {});
  });
  server.handle("/hang-short", () => new Promise<undefined>(() => {}), {
    timeout: 20,
  });
  server.handle("/wrong-type", () => 42 as unknown as Uint8Array);
  server.handle("/refuse", () => {
    throw new NanoRpcError(Status.NOT_AUTHORIZED, "Log in first");
  });
  return server;
}

Deno.test("Server answers INTERNAL_ERROR for handlers that throw, reject or hang, and the session goes on", async () => {
  const logger = recordingLogger();
  const aborted: string[] = [];
  await using server = failingServer(logger, aborted);
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);

  // Unexpected exceptions: a generic message and a reference; the real
  // error goes to the log under that reference.
  const cases: [string, RegExp, string?][] = [
    ["/throw", generic("/throw"), "boom"],
    ["/throw-string", generic("/throw-string"), "a plain string"],
    ["/reject", generic("/reject"), "rejected later"],
    ["/reject-raw", generic("/reject-raw"), "raw"],
    ["/hang", /Handler for \/hang did not finish within 100 ms/],
    ["/hang-short", /Handler for \/hang-short did not finish within 20 ms/],
    ["/wrong-type", /not Uint8Array or string/],
  ];
  let id = 0;
  for (const [path, message, hidden] of cases) {
    const res = await peer.call(request(++id, path));
    assert.equal(res.requestId, id, path);
    assert.equal(res.responseType, ResponseType.RESPONSE, path);
    assert.equal(res.responseStatus, Status.INTERNAL_ERROR, path);
    assert.match(res.responseMessage, message);
    assert.equal(res.data.length, 0);
    if (hidden) {
      const ref = /reference (\w{8})/.exec(res.responseMessage)![1];
      assert.ok(
        logger.lines.some((l) => l.includes(ref) && l.includes(hidden)),
        `the log has ${ref} with "${hidden}"`,
      );
    }

    // The same session still answers correctly after each failure.
    const echo = await peer.call(request(++id, "/echo", encoder.encode(path)));
    assert.equal(echo.responseStatus, Status.OK);
    assert.deepEqual(echo.data, encoder.encode(path));
  }
  const refused = await peer.call(request(++id, "/refuse"));
  assert.equal(refused.responseStatus, Status.NOT_AUTHORIZED);
  assert.equal(refused.responseMessage, "Log in first");

  assert.deepEqual(aborted, ["/hang"]);
  assert.equal(server.stats().sessions, 1);
  assert.equal(server.stats().malformedCloses, 0);
  peer.close();
});

Deno.test("Server answers a pipelined mix of failing and good requests in order", async () => {
  await using server = failingServer(recordingLogger(), []);
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);
  const paths = ["/throw", "/hang-short", "/reject", "/echo", "/wrong-type"];
  const batch: Uint8Array[] = [];
  for (let round = 0; round < 20; round++) {
    paths.forEach((path, i) => {
      batch.push(frame(request(round * 10 + i, path, new Uint8Array([i]))));
    });
    batch.push(frame({ requestId: round * 10 + 9, requestType: 1 }));
  }
  await peer.write(concat(...batch));
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < paths.length; i++) {
      const res = await peer.read();
      assert.equal(res.requestId, round * 10 + i);
      const ok = paths[i] === "/echo";
      assert.equal(
        res.responseStatus,
        ok ? Status.OK : Status.INTERNAL_ERROR,
        paths[i],
      );
      if (ok) assert.deepEqual(res.data, new Uint8Array([i]));
    }
    const pong = await peer.read();
    assert.equal(pong.requestId, round * 10 + 9);
    assert.equal(pong.responseType, ResponseType.PONG);
  }
  peer.close();
});

Deno.test("Server keeps answering other sessions while one session's handler hangs", async () => {
  const release = Promise.withResolvers<void>();
  await using server = new Server({ handlerTimeout: 5000 });
  server.handle("/block", async () => {
    await release.promise;
    return "released";
  });
  server.handle("/echo", (ctx) => ctx.data);
  const { addr } = await server.listen({ port: 0 });
  const stuck = await RawPeer.connect(addr);
  const other = await RawPeer.connect(addr);
  await stuck.send(request(1, "/block"));
  await stuck.send(request(2, "/echo", new Uint8Array([2])));
  for (let i = 0; i < 20; i++) {
    const res = await other.call(request(i, "/echo", new Uint8Array([i])));
    assert.deepEqual(res.data, new Uint8Array([i]));
  }
  release.resolve();
  const blocked = await stuck.read();
  assert.equal(blocked.requestId, 1);
  assert.deepEqual(blocked.data, encoder.encode("released"));
  assert.equal((await stuck.read()).requestId, 2);
  stuck.close();
  other.close();
});

Deno.test("Server times out a concurrent handler without holding the session's later requests", async () => {
  await using server = new Server({ handlerTimeout: 80 });
  server.handle("/slow", () => new Promise<undefined>(() => {}), {
    concurrent: true,
  });
  server.handle("/echo", (ctx) => ctx.data);
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);
  await peer.write(
    concat(
      frame(request(1, "/slow")),
      frame(request(2, "/echo", new Uint8Array([2]))),
    ),
  );
  const first = await peer.read();
  assert.equal(first.requestId, 2);
  assert.equal(first.responseStatus, Status.OK);
  const second = await peer.read();
  assert.equal(second.requestId, 1);
  assert.equal(second.responseStatus, Status.INTERNAL_ERROR);
  assert.match(second.responseMessage, /did not finish within 80 ms/);
  peer.close();
});

Deno.test("Server answers INTERNAL_ERROR when middleware or a topic filter throws", async () => {
  const logger = recordingLogger();
  await using server = new Server({ logger });
  server.use((ctx, next) => {
    if (ctx.path === "/guarded") throw new Error("middleware broke");
    return next();
  });
  server.handle("/guarded", () => "never");
  server.handle("/echo", (ctx) => ctx.data);
  server.topic("/t", {
    filter: () => true,
    decodeFilter: () => {
      throw new Error("bad filter bytes");
    },
  });
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);

  const guarded = await peer.call(request(1, "/guarded"));
  assert.equal(guarded.responseStatus, Status.INTERNAL_ERROR);
  assert.match(guarded.responseMessage, /\/guarded failed \(reference/);
  assert.ok(logger.lines.some((l) => l.includes("middleware broke")));

  const sub = await peer.call({
    requestId: 2,
    requestType: RequestType.SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
    data: new Uint8Array([1, 2, 3]),
  });
  assert.equal(sub.responseStatus, Status.INTERNAL_ERROR);
  assert.match(sub.responseMessage, /Invalid subscription filter for \/t/);
  assert.equal(server.stats().subscriptions, 0);

  const echo = await peer.call(request(3, "/echo", new Uint8Array([3])));
  assert.deepEqual(echo.data, new Uint8Array([3]));
  peer.close();
});
