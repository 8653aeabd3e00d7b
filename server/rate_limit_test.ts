// Rate limits over real sockets: fake time for the exact schedule, real
// time with coarse bounds for the flood that must not slow anyone else.

import assert from "node:assert/strict";
import {
  concat,
  FakeTime,
  Gate,
  parsePrometheus,
  PING,
  RawClient,
  REQUEST,
  requestFrame,
  startServer,
  waitFor,
} from "../testing/mod.ts";
import { Server } from "./server.ts";

function echoes(first: number, count: number, path = "/echo"): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(requestFrame({
      requestId: first + i,
      requestType: REQUEST,
      pathOneof: { case: "path", value: path },
      data: new Uint8Array([i & 0xff]),
    }));
  }
  return concat(...frames);
}

/** Reads responses in the background into `ids` until `count` came. */
function collect(raw: RawClient, count: number): {
  ids: number[];
  done: Promise<void>;
} {
  const ids: number[] = [];
  const done = (async () => {
    while (ids.length < count) ids.push((await raw.read(20_000)).requestId);
  })();
  return { ids, done };
}

Deno.test("Server rate limit makes excess pipelined requests wait and answers them all at the rate", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { rateLimit: { perSecond: 10, burst: 5 } });
  const raw = await t.connectRaw();
  using time = new FakeTime();
  const got = collect(raw, 25);
  await raw.write(echoes(1, 25));
  await waitFor(() => got.ids.length === 5, { message: "the burst" });
  await time.tickAsync(50);
  assert.equal(got.ids.length, 5, "nothing before a token is due");
  for (let i = 1; i <= 20; i++) {
    await time.tickAsync(i === 1 ? 50 : 100);
    await waitFor(() => got.ids.length === 5 + i, {
      message: `request ${5 + i}`,
    });
  }
  await got.done;
  assert.deepEqual(got.ids, Array.from({ length: 25 }, (_, i) => i + 1));
  assert.equal(t.server.stats().rateLimitedRequests, 20);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_rate_limited_requests_total"), 20);
  assert.equal(m.value("nanorpc_requests_total", { path: "/echo" }), 25);
});

Deno.test("Server rate limit: a flooding session waits while another session's pings go through", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { rateLimit: { perSecond: 50 } });
  const flood = await t.connectRaw();
  const other = await t.connectRaw();
  const got = collect(flood, 150);
  const started = performance.now();
  await flood.write(echoes(1, 150));
  // The burst (50) is answered at once; 100 more need 2 s at 50/s.
  await waitFor(() => got.ids.length >= 50, { message: "the burst" });
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const pong = await other.call({ requestId: 1000 + i, requestType: PING });
    assert.equal(pong.requestId, 1000 + i);
    assert.ok(performance.now() - t0 < 500, "the other session is not slowed");
    const echo = await other.call({
      requestId: 2000 + i,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/echo" },
    });
    assert.equal(echo.requestId, 2000 + i);
  }
  assert.ok(got.ids.length < 150, "the flood is still waiting");
  await got.done;
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 1900, `150 requests at 50/s took only ${elapsed} ms`);
  assert.deepEqual(got.ids, Array.from({ length: 150 }, (_, i) => i + 1));
});

Deno.test("Server rate limit per path applies on top of the session's", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
    server.handle("/send", () => "sent");
  }, {
    rateLimit: {
      perSecond: 1000,
      paths: { "/send": { perSecond: 2, burst: 1 } },
    },
  });
  const raw = await t.connectRaw();
  using time = new FakeTime();
  const got = collect(raw, 6);
  // Two sends, then echoes: the echoes wait behind the second send.
  await raw.write(concat(echoes(1, 2, "/send"), echoes(3, 4)));
  await waitFor(() => got.ids.length === 1);
  await time.tickAsync(499);
  assert.equal(got.ids.length, 1);
  await time.tickAsync(1);
  await waitFor(() => got.ids.length === 6);
  await got.done;
  assert.deepEqual(got.ids, [1, 2, 3, 4, 5, 6]);
  assert.equal(t.server.stats().rateLimitedRequests, 1);
});

Deno.test("Server rate limit closes a session that stays over its limit for closeAfter", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { rateLimit: { perSecond: 10, burst: 1, closeAfter: 500 } });
  const raw = await t.connectRaw();
  using time = new FakeTime();
  await raw.write(echoes(1, 100));
  await waitFor(() => t.server.stats().rateLimitedRequests >= 1);
  for (let i = 0; i < 10 && t.server.stats().rateLimitCloses === 0; i++) {
    await time.tickAsync(100);
  }
  assert.equal(t.server.stats().rateLimitCloses, 1);
  assert.equal(await raw.closedByServer(), true);
  await waitFor(() => t.server.stats().sessions === 0);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_rate_limit_closes_total"), 1);
});

Deno.test("Server rate limit lets a session that slows down stay", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { rateLimit: { perSecond: 10, burst: 2, closeAfter: 300 } });
  const raw = await t.connectRaw();
  using time = new FakeTime();
  for (let round = 0; round < 10; round++) {
    const got = collect(raw, 2);
    await raw.write(echoes(round * 2 + 1, 2));
    await waitFor(() => got.ids.length === 2);
    await time.tickAsync(200);
  }
  assert.equal(t.server.stats().rateLimitCloses, 0);
  assert.equal(t.server.stats().sessions, 1);
});

Deno.test("Server rate limit does not count a pause between a session's requests as time over its limit", async () => {
  // A bonus every 10 s per session, and a session closed after 1 s over.
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
    server.handle("/bonus", () => "bonus");
  }, {
    rateLimit: {
      perSecond: 10,
      burst: 1,
      closeAfter: 1000,
      paths: { "/bonus": { perSecond: 0.1, burst: 1 } },
    },
  });
  const raw = await t.connectRaw();
  using time = new FakeTime();
  const first = collect(raw, 2);
  // The echo waits 100 ms for the session's token.
  await raw.write(concat(echoes(1, 1, "/bonus"), echoes(2, 1)));
  await waitFor(() => t.server.stats().rateLimitedRequests === 1);
  await time.tickAsync(100);
  await first.done;
  // 9.4 s later the next bonus is 0.5 s away: it waits, for the first
  // time since that echo.
  await time.tickAsync(9400);
  await raw.write(echoes(3, 1, "/bonus"));
  await waitFor(() => t.server.stats().rateLimitedRequests === 2);
  assert.equal(t.server.stats().rateLimitCloses, 0, "closed at once");
  await time.tickAsync(500);
  assert.equal((await raw.read()).requestId, 3);
  assert.deepEqual(first.ids, [1, 2]);
  assert.equal(t.server.stats().rateLimitCloses, 0);
});

Deno.test("Server refuses new connections from one address beyond connectionRateLimit", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { connectionRateLimit: { perSecond: 1, burst: 2 } });
  using time = new FakeTime();
  const a = await t.connectRaw();
  const b = await t.connectRaw();
  const c = await t.connectRaw();
  assert.equal(await c.closedByServer(), true);
  assert.equal(t.server.stats().connectionsRateLimited, 1);
  for (const raw of [a, b]) {
    const pong = await raw.call({ requestId: 7, requestType: PING });
    assert.equal(pong.requestId, 7);
  }
  await time.tickAsync(1000);
  const d = await t.connectRaw();
  assert.equal(
    (await d.call({ requestId: 8, requestType: PING })).requestId,
    8,
  );
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_connections_rate_limited_total"), 1);
  assert.equal(m.value("nanorpc_sessions_refused_total"), 1);
});

/**
 * Whether a listener on "::" here also takes IPv4 connections (IPv6 is
 * on, and not v6-only).
 */
const dualStack = await (async () => {
  try {
    using listener = Deno.listen({ hostname: "::", port: 0 });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    (await listener.accept()).close();
    conn.close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "Server counts an IPv4 peer seen as ::ffff:a.b.c.d by a dual-stack listener as the same host",
  ignore: !dualStack,
  async fn() {
    await using t = await startServer((server) => {
      server.handle("/echo", (ctx) => ctx.data);
    }, { connectionRateLimit: { perSecond: 1, burst: 1 } });
    const dual = await t.server.listen({ hostname: "::", port: 0 });
    using _time = new FakeTime();
    const a = await t.connectRaw(); // 127.0.0.1
    const port = (dual.addr as Deno.NetAddr).port;
    using b = await RawClient.connect({
      transport: "tcp",
      hostname: "127.0.0.1",
      port,
    }); // ::ffff:127.0.0.1, the same host: over its rate
    assert.equal(await b.closedByServer(), true);
    assert.equal(t.server.stats().connectionsRateLimited, 1);
    assert.equal(
      (await a.call({ requestId: 1, requestType: PING })).requestId,
      1,
    );
  },
});

Deno.test("Server rejects rate limits out of range, naming the option", () => {
  for (
    const [options, name] of [
      [{ rateLimit: { perSecond: 0 } }, "rateLimit.perSecond"],
      [{ rateLimit: { perSecond: Infinity } }, "rateLimit.perSecond"],
      [{ rateLimit: { perSecond: 5, burst: 0.5 } }, "rateLimit.burst"],
      [{ rateLimit: { perSecond: 5, closeAfter: -1 } }, "rateLimit.closeAfter"],
      [
        { rateLimit: { perSecond: 5, paths: { "/a": { perSecond: -1 } } } },
        'rateLimit.paths["/a"].perSecond',
      ],
      [
        { rateLimit: { perSecond: 5, paths: { "echo": { perSecond: 1 } } } },
        'rateLimit.paths["echo"]: paths start with "/"',
      ],
      [{ connectionRateLimit: { perSecond: NaN } }, "connectionRateLimit"],
    ] as const
  ) {
    assert.throws(
      () => new Server(options),
      (err: Error) => err instanceof RangeError && err.message.includes(name),
    );
  }
});

/** Reads `count` responses as `id:status` (PONG as `id:pong`). */
async function answers(raw: RawClient, count: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < count) {
    const r = await raw.read(20_000);
    out.push(
      `${r.requestId}:${r.responseType === 1 ? "pong" : r.responseStatus}`,
    );
    if (r.responseStatus === 4) {
      assert.match(r.responseMessage, /^server is shutting down/);
    }
  }
  return out;
}

Deno.test("Server shutdown answers a request waiting for its rate limit, and the rest of its read, with INTERNAL_ERROR counted under its path", async () => {
  // A token every 2 s: the waiting request looks again after 1 s (the
  // longest pause), finds the server shutting down, and does not wait on.
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { rateLimit: { perSecond: 0.5, burst: 2 } });
  const raw = await t.connectRaw();
  const got = answers(raw, 6);
  await raw.write(
    concat(echoes(1, 5), requestFrame({ requestId: 6, requestType: PING })),
  );
  await waitFor(() => t.server.stats().rateLimitedRequests === 1, {
    message: "request 3 to wait",
  });
  await t.server.shutdown();
  // OK = 1, INTERNAL_ERROR = 4: nothing read goes unanswered.
  assert.deepEqual(await got, ["1:1", "2:1", "3:4", "4:4", "5:4", "6:pong"]);
  // Counted under their path, which is registered.
  const m = parsePrometheus(t.server.metrics());
  const refused = { path: "/echo", status: "INTERNAL_ERROR" };
  assert.equal(m.value("nanorpc_requests_total", refused), 3);
  assert.equal(
    m.value("nanorpc_requests_total", { ...refused, path: "unregistered" }),
    undefined,
  );
});

Deno.test("Server shutdown answers at once a request over its rate limit read before the shutdown", async () => {
  const gate = new Gate();
  await using t = await startServer((server) => {
    server.handle("/slow", async () => {
      await gate.opened;
      return "slow";
    });
    server.handle("/echo", (ctx) => ctx.data);
  }, { rateLimit: { perSecond: 1, burst: 2 } });
  const raw = await t.connectRaw();
  using _time = new FakeTime(); // No tick: nothing may wait for a token.
  const got = answers(raw, 4);
  await raw.write(concat(echoes(1, 1, "/slow"), echoes(2, 3)));
  await waitFor(() => t.server.stats().framesIn === 4, {
    message: "the read",
  });
  const stopping = t.server.shutdown();
  // The handler holds the read while the server starts draining.
  const [session] = t.server.sessions.values();
  await waitFor(() => (session as unknown as { draining: boolean }).draining, {
    message: "the drain",
  });
  gate.open();
  assert.deepEqual(await got, ["1:1", "2:1", "3:4", "4:4"]);
  await stopping;
});
