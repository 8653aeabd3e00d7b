// Graceful shutdown under load: every request the server
// received before shutdown is answered, in-flight async handlers finish,
// and no connection is accepted after.

import assert from "node:assert/strict";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { frame, RawPeer } from "./_testing.ts";
import { Server } from "./server.ts";

const PEERS = 16;

/** Frames of `/slow` (async, 5–30 ms) and `/echo` (sync), by id. */
function requestFor(id: number): Uint8Array {
  return frame({
    requestId: id,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "path", value: id % 3 === 0 ? "/slow" : "/echo" },
    data: new Uint8Array([id & 0xff, (id >> 8) & 0xff]),
  });
}

interface Ledger {
  /** Request ids whose handler started, per session. */
  started: Map<number, Set<number>>;
  /** Async handlers that finished. */
  finished: number;
  /** Async handlers started. */
  slowStarted: number;
}

function loadServer(ledger: Ledger): Server {
  const server = new Server({ logLevel: "error" });
  server.use((ctx, next) => {
    let ids = ledger.started.get(ctx.session.id);
    if (!ids) ledger.started.set(ctx.session.id, ids = new Set());
    ids.add(ctx.requestId);
    return next();
  });
  server.handle("/echo", (ctx) => ctx.data);
  server.handle("/slow", async (ctx) => {
    ledger.slowStarted++;
    const data = ctx.copyData();
    await new Promise((r) => setTimeout(r, 5 + (ctx.requestId % 26)));
    ledger.finished++;
    return data;
  });
  server.handle("/whoami", (ctx) => String(ctx.session.id));
  return server;
}

/** A peer that keeps sending until the server closes it. */
async function loadPeer(addr: Deno.Addr, stop: { now: boolean }) {
  const peer = await RawPeer.connect(addr);
  const who = await peer.call({
    requestId: -1,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "path", value: "/whoami" },
  });
  const session = Number(new TextDecoder().decode(who.data));
  const answers = new Map<number, { status: number; data: Uint8Array }>();
  answers.set(who.requestId, { status: who.responseStatus, data: who.data });
  const reading = (async () => {
    try {
      for (;;) {
        const res = await peer.read(10_000);
        answers.set(res.requestId, {
          status: res.responseStatus,
          data: res.data,
        });
      }
    } catch {
      // The server closed the connection: shutdown.
    }
  })();
  let sent = 0;
  try {
    while (!stop.now) {
      for (let i = 0; i < 4; i++) await peer.write(requestFor(sent++));
      await new Promise((r) => setTimeout(r, 1));
    }
  } catch {
    // The server closed the connection while we were writing.
  }
  await reading;
  peer.close();
  return { session, answers, sent };
}

Deno.test("Server shutdown under load answers every request it received and finishes in-flight handlers", async () => {
  const ledger: Ledger = { started: new Map(), finished: 0, slowStarted: 0 };
  const server = loadServer(ledger);
  const { addr } = await server.listen({ port: 0 });
  const stop = { now: false };
  const peers = Array.from({ length: PEERS }, () => loadPeer(addr, stop));
  await new Promise((r) => setTimeout(r, 300));

  const inFlight = ledger.slowStarted - ledger.finished;
  await server.shutdown();
  const finishedAtShutdown = ledger.finished;
  stop.now = true;
  const results = await Promise.all(peers);

  assert.ok(inFlight > 0, "no handler was in flight when shutdown began");
  assert.equal(finishedAtShutdown, ledger.slowStarted, "a handler was cut off");
  let answered = 0;
  for (const { session, answers, sent } of results) {
    const started = ledger.started.get(session)!;
    assert.ok(sent > 0 && started.size > 1, "the peer was not under load");
    for (const id of started) {
      const answer = answers.get(id);
      assert.ok(answer, `session ${session}: request ${id} not answered`);
      assert.equal(answer.status, Status.OK, `request ${id}`);
      if (id >= 0) {
        assert.deepEqual(answer.data, new Uint8Array([id & 0xff, id >> 8]));
      }
      answered++;
    }
    // Nothing is answered that never reached a handler.
    for (const id of answers.keys()) assert.ok(started.has(id));
  }
  assert.ok(answered > PEERS * 10, `only ${answered} requests answered`);
  assert.equal(server.stats().sessions, 0);
});

Deno.test("Server accepts no connection once shutdown has begun", async () => {
  const release = Promise.withResolvers<void>();
  const server = new Server({ logLevel: "error" });
  server.handle("/hold", async () => {
    await release.promise;
    return "done";
  });
  const { addr } = await server.listen({ port: 0 });
  const net = addr as Deno.NetAddr;
  const peer = await RawPeer.connect(addr);
  await peer.send({
    requestId: 1,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "path", value: "/hold" },
  });
  while (server.stats().framesIn === 0) {
    await new Promise((r) => setTimeout(r, 1));
  }

  let done = false;
  const stopping = server.shutdown().then(() => done = true);
  for (let i = 0; i < 20; i++) {
    // Refused, reset, or closed unanswered: never served.
    try {
      const late = await RawPeer.connect(net);
      await late.send({ requestId: 9, requestType: RequestType.PING });
      assert.equal(await late.closedByServer(), true);
      late.close();
    } catch (err) {
      assert.ok(
        err instanceof Deno.errors.ConnectionRefused ||
          err instanceof Deno.errors.ConnectionReset,
        String(err),
      );
    }
  }
  await assert.rejects(server.listen({ port: 0 }), /shutting down/);
  assert.equal(done, false, "shutdown did not wait for the handler");
  assert.equal(server.stats().sessionsOpened, 1);

  release.resolve();
  const res = await peer.read();
  assert.equal(res.requestId, 1);
  assert.equal(res.responseStatus, Status.OK);
  assert.deepEqual(res.data, new TextEncoder().encode("done"));
  await stopping;
  assert.equal(await peer.closedByServer(), true);
  peer.close();
});

Deno.test("Server shutdown gives up on a hung handler after shutdownTimeout", async () => {
  const server = new Server({
    shutdownTimeout: 100,
    handlerTimeout: 0,
    logLevel: "error",
  });
  server.handle("/hang", () => new Promise<undefined>(() => {}), {
    concurrent: true,
  });
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);
  await peer.send({
    requestId: 1,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "path", value: "/hang" },
  });
  const pong = await peer.call({ requestId: 2, requestType: 1 });
  assert.equal(pong.responseType, ResponseType.PONG);
  const started = performance.now();
  await server.shutdown();
  const took = performance.now() - started;
  assert.ok(took >= 90 && took < 5000, `shutdown took ${took} ms`);
  assert.equal(await peer.closedByServer(), true);
  assert.equal(server.stats().sessions, 0);
  peer.close();
});
