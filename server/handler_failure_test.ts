// Handlers that throw, reject or hang past their time limit answer
// STATUS_INTERNAL_ERROR with a message, and the session — and every other
// session — goes on. Time limits run on fake time: the test moves the
// clock to the limit, so no test waits for one.

import assert from "node:assert/strict";
import { NanoRpcError } from "../protocol/errors.ts";
import {
  concat,
  FakeTime,
  Gate,
  PING,
  PONG,
  recordingLogger,
  REQUEST,
  requestFrame,
  type RequestInit,
  RESPONSE,
  startServer,
  SUBSCRIBE,
  waitFor,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { Server } from "./server.ts";

const encoder = new TextEncoder();

function request(id: number, path: string, data = new Uint8Array()) {
  return {
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data,
  } satisfies RequestInit;
}

/** The whole message a peer gets for an unexpected exception at `path`. */
function generic(path: string): RegExp {
  return new RegExp(
    `^Handler for ${path} failed \\(reference \\w{8}\\); the server log has the details$`,
  );
}

/** Handlers that fail in every way, plus `/echo`; the server's limit is 100 ms. */
function failingHandlers(aborted: string[]) {
  return (server: Server) => {
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
    server.handle("/hang-short", (ctx) => {
      ctx.signal.addEventListener("abort", () => aborted.push(ctx.path));
      return new Promise<undefined>(() => {});
    }, { timeout: 20 });
    server.handle("/wrong-type", () => 42 as unknown as Uint8Array);
    server.handle("/refuse", () => {
      throw new NanoRpcError(Status.NOT_AUTHORIZED, "Log in first");
    });
  };
}

Deno.test("Server answers INTERNAL_ERROR for handlers that throw, reject or hang, and the session goes on", async () => {
  const logger = recordingLogger();
  const aborted: string[] = [];
  await using t = await startServer(failingHandlers(aborted), {
    handlerTimeout: 100,
    logger,
  });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  const peer = await t.connectRaw();

  // Unexpected exceptions: a generic message and a reference; the real
  // error goes to the log under that reference. Hanging handlers answer
  // when their time limit, and not a millisecond less, has passed.
  const cases: [string, RegExp, { hidden?: string; limit?: number }][] = [
    ["/throw", generic("/throw"), { hidden: "boom" }],
    ["/throw-string", generic("/throw-string"), { hidden: "a plain string" }],
    ["/reject", generic("/reject"), { hidden: "rejected later" }],
    ["/reject-raw", generic("/reject-raw"), { hidden: "raw" }],
    ["/hang", /Handler for \/hang did not finish within 100 ms/, {
      limit: 100,
    }],
    ["/hang-short", /Handler for \/hang-short did not finish within 20 ms/, {
      limit: 20,
    }],
    ["/wrong-type", /not Uint8Array or string/, {}],
  ];
  let id = 0;
  for (const [path, message, { hidden, limit }] of cases) {
    const answer = peer.call(request(++id, path));
    answer.catch(() => {}); // Awaited below; a failed wait must not leave it dangling.
    if (limit) {
      await waitFor(() => time.nextDelay === limit, {
        message: `the time limit of ${path}`,
      });
      await time.tickAsync(limit - 1);
      assert.deepEqual(aborted, [], `${path} was aborted early`);
      await time.tickAsync(1);
      assert.deepEqual(aborted.splice(0), [path]);
    }
    const res = await answer;
    assert.equal(res.requestId, id, path);
    assert.equal(res.responseType, RESPONSE, path);
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

  assert.equal(t.server.stats().sessions, 1);
  assert.equal(t.server.stats().malformedCloses, 0);
  assert.equal(time.pending, 0, "a time limit was left armed");
});

Deno.test("Server answers a pipelined mix of failing and good requests in order", async () => {
  await using t = await startServer(failingHandlers([]), {
    handlerTimeout: 100,
    logger: recordingLogger(),
  });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  const peer = await t.connectRaw();
  const paths = ["/throw", "/hang-short", "/reject", "/echo", "/wrong-type"];
  const batch: Uint8Array[] = [];
  for (let round = 0; round < 20; round++) {
    paths.forEach((path, i) => {
      batch.push(
        requestFrame(request(round * 10 + i, path, new Uint8Array([i]))),
      );
    });
    batch.push(requestFrame({ requestId: round * 10 + 9, requestType: PING }));
  }
  await peer.write(concat(...batch));
  let done = false;
  const reading = (async () => {
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
      assert.equal(pong.responseType, PONG);
    }
  })().finally(() => done = true);
  reading.catch(() => {}); // Awaited below.
  // Each round's /hang-short holds the session's later requests until its
  // 20 ms have passed.
  let limits = 0;
  for (;;) {
    await waitFor(() => done || time.nextDelay !== undefined, {
      message: "a time limit or the last answer",
    });
    if (done) break;
    assert.equal(time.nextDelay, 20);
    await time.tickAsync(20);
    limits++;
  }
  await reading;
  assert.equal(limits, 20);
});

Deno.test("Server keeps answering other sessions while one session's handler hangs", async () => {
  const release = new Gate();
  await using t = await startServer((server) => {
    server.handle("/block", async () => {
      await release.opened;
      return "released";
    });
    server.handle("/echo", (ctx) => ctx.data);
  }, { handlerTimeout: 5000 });
  const stuck = await t.connectRaw();
  const other = await t.connectRaw();
  await stuck.send(request(1, "/block"));
  await stuck.send(request(2, "/echo", new Uint8Array([2])));
  for (let i = 0; i < 20; i++) {
    const res = await other.call(request(i, "/echo", new Uint8Array([i])));
    assert.deepEqual(res.data, new Uint8Array([i]));
  }
  release.open();
  const blocked = await stuck.read();
  assert.equal(blocked.requestId, 1);
  assert.deepEqual(blocked.data, encoder.encode("released"));
  assert.equal((await stuck.read()).requestId, 2);
});

Deno.test("Server times out a concurrent handler without holding the session's later requests", async () => {
  await using t = await startServer((server) => {
    server.handle("/slow", () => new Promise<undefined>(() => {}), {
      concurrent: true,
    });
    server.handle("/echo", (ctx) => ctx.data);
  }, { handlerTimeout: 80 });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  const peer = await t.connectRaw();
  await peer.write(
    concat(
      requestFrame(request(1, "/slow")),
      requestFrame(request(2, "/echo", new Uint8Array([2]))),
    ),
  );
  // No time passes: the later request is answered while /slow runs.
  const first = await peer.read();
  assert.equal(first.requestId, 2);
  assert.equal(first.responseStatus, Status.OK);
  assert.equal(time.nextDelay, 80);
  await time.tickAsync(80);
  const second = await peer.read();
  assert.equal(second.requestId, 1);
  assert.equal(second.responseStatus, Status.INTERNAL_ERROR);
  assert.match(second.responseMessage, /did not finish within 80 ms/);
});

Deno.test("Server answers INTERNAL_ERROR when middleware or a topic filter throws", async () => {
  const logger = recordingLogger();
  await using t = await startServer((server) => {
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
  }, { logger });
  const peer = await t.connectRaw();

  const guarded = await peer.call(request(1, "/guarded"));
  assert.equal(guarded.responseStatus, Status.INTERNAL_ERROR);
  assert.match(guarded.responseMessage, /\/guarded failed \(reference/);
  assert.ok(logger.lines.some((l) => l.includes("middleware broke")));

  const sub = await peer.call({
    requestId: 2,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
    data: new Uint8Array([1, 2, 3]),
  });
  assert.equal(sub.responseStatus, Status.INTERNAL_ERROR);
  assert.match(sub.responseMessage, /Invalid subscription filter for \/t/);
  assert.equal(t.server.stats().subscriptions, 0);

  const echo = await peer.call(request(3, "/echo", new Uint8Array([3])));
  assert.deepEqual(echo.data, new Uint8Array([3]));
});

/** A SUBSCRIBE to `/t` answers INTERNAL_ERROR and leaves nothing behind. */
async function refusesSubscription(
  t: Awaited<ReturnType<typeof startServer>>,
): Promise<void> {
  const peer = await t.connectRaw();
  const answer = await peer.call({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  });
  assert.equal(answer.responseStatus, Status.INTERNAL_ERROR);
  assert.equal(t.server.stats().subscriptions, 0);
}

Deno.test("Server refuses a SUBSCRIBE whose middleware set a body of the wrong type, leaving no subscription behind", async () => {
  await using t = await startServer((server) => {
    server.topic("/t");
    server.use(async (ctx, next) => {
      await next();
      if (ctx.kind === "subscribe") {
        (ctx as { body: unknown }).body = { ok: true };
      }
    });
  });
  await refusesSubscription(t);
});

Deno.test("Server answers INTERNAL_ERROR for a NanoRpcError thrown with a status that is no error, such as OK", async () => {
  await using t = await startServer((server) => {
    server.topic("/t");
    server.use(() => {
      throw new NanoRpcError(Status.OK, "not an error");
    });
  });
  await refusesSubscription(t);
});
