// Draining over real sockets with fake time: closes spread over the
// window, no accepting meanwhile, resumable sessions when it keeps
// accepting.

import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import {
  FakeTime,
  parsePrometheus,
  PING,
  recordingLogger,
  REQUEST,
  startServer,
  waitFor,
} from "../testing/mod.ts";

Deno.test("Server.drain closes sessions spread evenly over the window and stops accepting", async () => {
  const logger = recordingLogger();
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { logger, logLevel: "info" });
  const raws = await Promise.all(
    Array.from({ length: 20 }, () => t.connectRaw()),
  );
  await waitFor(() => t.server.stats().sessions === 20);
  using time = new FakeTime();
  const drained = t.server.drain({ window: 1000 });
  // Stopped accepting: a new connection is refused.
  await waitFor(async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: t.tcp!.port }))
        .close();
      return false;
    } catch (err) {
      return err instanceof Deno.errors.ConnectionRefused;
    }
  }, { message: "the listener to close" });
  await waitFor(() => logger.lines.some((l) => l.startsWith("draining 20")));
  for (let k = 1; k <= 10; k++) {
    await time.tickAsync(100);
    // Slot i of 20 lies in [50 i, 50 (i + 1)) ms, and the drain wakes at
    // most every 10 ms: by 100 k ms, sessions 0 … 2k − 2 are closed, maybe
    // 2k − 1, none after.
    await waitFor(() => t.server.stats().drainCloses >= 2 * k - 1, {
      message: `${2 * k - 1} closes by ${100 * k} ms`,
    });
    assert.ok(t.server.stats().drainCloses <= 2 * k);
  }
  await time.tickAsync(10); // The last one, if it was due in the last tick.
  await drained;
  await waitFor(() => t.server.stats().sessions === 0);
  for (const raw of raws) assert.equal(await raw.closedByServer(), true);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_drain_closes_total"), 20);
});

Deno.test("Server.drain without stopAccepting lets sessions with a token resume here", async () => {
  await using t = await startServer((server) => {
    server.handle("/who", (ctx) => ctx.session.get<string>("who") ?? "");
    server.handle("/iam", (ctx) => {
      ctx.session.set("who", new TextDecoder().decode(ctx.data));
    });
  });
  const raw = await t.connectRaw();
  const call = (id: number, path: string, data = new Uint8Array()) =>
    raw.call({
      requestId: id,
      requestType: REQUEST,
      pathOneof: { case: "path", value: path },
      data,
    });
  await call(1, "/iam", new TextEncoder().encode("ada"));
  const token = (await call(2, "/_nanorpc/session")).data.slice();
  await t.server.drain({ window: 0, stopAccepting: false });
  assert.equal(await raw.closedByServer(), true);
  assert.equal(t.server.stats().lingeringSessions, 1);
  const back = await t.connectRaw();
  const resumed = await back.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/resume" },
    data: token,
  });
  assert.equal(resumed.responseStatus, Status.OK);
  const who = await back.call({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/who" },
  });
  assert.equal(new TextDecoder().decode(who.data), "ada");
});

Deno.test("Server.drain lets a running handler finish before closing its session", async () => {
  const release = Promise.withResolvers<void>();
  let started = false;
  await using t = await startServer((server) => {
    server.handle("/slow", async () => {
      started = true;
      await release.promise;
      return "finished";
    });
  });
  const raw = await t.connectRaw();
  await raw.send({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/slow" },
  });
  await waitFor(() => started);
  using time = new FakeTime();
  const drained = t.server.drain({ window: 0, settleTimeout: 5000 });
  await time.tickAsync(100);
  release.resolve();
  const answer = await raw.read();
  assert.equal(new TextDecoder().decode(answer.data), "finished");
  await drained;
  assert.equal(await raw.closedByServer(), true);
});

Deno.test("Server.drain rejects a bad window before it stops accepting", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  });
  await assert.rejects(t.server.drain({ window: -1 }), RangeError);
  await assert.rejects(
    t.server.drain({ window: "5000" as unknown as number }),
    RangeError,
  );
  await assert.rejects(
    t.server.drain({ window: 0, settleTimeout: NaN }),
    /settleTimeout must be a number/,
  );
  // Nothing changed: the listener is there and takes new sessions.
  assert.equal(t.server.listeners.length, 1);
  const peer = await t.connectRaw();
  const pong = await peer.call({ requestId: 1, requestType: PING });
  assert.equal(pong.requestId, 1);
});
