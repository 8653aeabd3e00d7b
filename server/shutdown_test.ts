// Graceful shutdown under load: every request the server received before
// shutdown is answered, in-flight async handlers finish, no connection is
// accepted after, and a hung handler is given up on at shutdownTimeout.

import assert from "node:assert/strict";
import {
  FakeTime,
  Gate,
  PING,
  PONG,
  type RawClient,
  REQUEST,
  requestFrame,
  startServer,
  type TestServer,
  waitFor,
  within,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { Server } from "./server.ts";
import type { ServerSession } from "./_session.ts";

const PEERS = 16;
/** Requests a peer may have unanswered; it waits for answers past that. */
const WINDOW = 8;

/** Frames of `/slow` (async, held) and `/echo` (sync), by id. */
function requestFor(id: number): Uint8Array {
  return requestFrame({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path", value: id % 3 === 0 ? "/slow" : "/echo" },
    data: new Uint8Array([id & 0xff, (id >> 8) & 0xff]),
  });
}

/**
 * What the handlers did. `/slow` handlers wait in `held` until released:
 * while the load runs, each `/echo` releases the oldest, and so does a new
 * one when half the sessions wait; once shutdown begins only the test
 * releases them.
 */
class Ledger {
  /** Request ids whose handler started, per session. */
  readonly started = new Map<number, Set<number>>();
  /** Async handlers started, and finished. */
  slowStarted = 0;
  finished = 0;
  readonly held: (() => void)[] = [];
  stopping = false;
  releaseAll = false;

  get total(): number {
    let n = 0;
    for (const ids of this.started.values()) n += ids.size;
    return n;
  }

  hold(): Promise<void> {
    if (this.releaseAll) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.held.push(resolve);
    if (!this.stopping && this.held.length > PEERS / 2) this.release();
    return promise;
  }

  release(): void {
    this.held.shift()?.();
  }
}

function loadSetup(ledger: Ledger) {
  return (server: Server) => {
    server.use((ctx, next) => {
      let ids = ledger.started.get(ctx.session.id);
      if (!ids) ledger.started.set(ctx.session.id, ids = new Set());
      ids.add(ctx.requestId);
      return next();
    });
    server.handle("/echo", (ctx) => {
      if (!ledger.stopping) ledger.release();
      return ctx.data;
    });
    server.handle("/slow", async (ctx) => {
      ledger.slowStarted++;
      const data = ctx.copyData();
      await ledger.hold();
      ledger.finished++;
      return data;
    });
    server.handle("/whoami", (ctx) => String(ctx.session.id));
  };
}

/** A peer that keeps sending until the server closes its connection. */
async function loadPeer(t: TestServer, stop: { now: boolean }) {
  const peer = await t.connectRaw();
  const who = await peer.call({
    requestId: -1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/whoami" },
  });
  const session = Number(new TextDecoder().decode(who.data));
  const answers = new Map<number, { status: number; data: Uint8Array }>();
  answers.set(who.requestId, { status: who.responseStatus, data: who.data });
  let closed = false;
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
      closed = true; // The server closed the connection: shutdown.
    }
  })();
  let sent = 0;
  try {
    while (!stop.now && !closed) {
      for (let i = 0; i < 4; i++) await peer.write(requestFor(sent++));
      await waitFor(
        () => stop.now || closed || answers.size + WINDOW > sent,
        { timeout: 10_000, message: `answers on session ${session}` },
      );
    }
  } catch {
    // The server closed the connection while we were writing.
  }
  await reading;
  return { session, answers, sent };
}

function sessionsDraining(server: Server): boolean {
  return [...server.sessions.values()].every((s) =>
    (s as ServerSession).draining
  );
}

Deno.test("Server shutdown under load answers every request it received and finishes in-flight handlers", async () => {
  const ledger = new Ledger();
  await using t = await startServer(loadSetup(ledger), { logLevel: "error" });
  const { server } = t;
  const stop = { now: false };
  const peers = Array.from({ length: PEERS }, () => loadPeer(t, stop));
  await waitFor(
    () => ledger.total >= PEERS * 20 && ledger.held.length > 0,
    { timeout: 10_000, message: "load with handlers in flight" },
  );

  ledger.stopping = true;
  let done = false;
  const stopping = server.shutdown().then(() => done = true);
  await waitFor(() => sessionsDraining(server), {
    message: "every session to stop reading",
  });
  const inFlight = ledger.held.length;
  assert.ok(inFlight > 0, "no handler was in flight when draining began");
  assert.equal(done, false, "shutdown did not wait for in-flight handlers");
  ledger.releaseAll = true;
  for (const release of ledger.held.splice(0)) release();
  await within(stopping, { message: "shutdown" });
  const finishedAtShutdown = ledger.finished;
  stop.now = true;
  const results = await Promise.all(peers);

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
  assert.ok(answered >= PEERS * 20, `only ${answered} requests answered`);
  assert.equal(server.stats().sessions, 0);
});

Deno.test("Server accepts no connection once shutdown has begun", async () => {
  const release = new Gate();
  await using t = await startServer((server) => {
    server.handle("/hold", async () => {
      await release.opened;
      return "done";
    });
  }, { logLevel: "error" });
  const { server } = t;
  const peer = await t.connectRaw();
  await peer.send({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/hold" },
  });
  await waitFor(() => server.stats().framesIn === 1, {
    message: "the request to reach the server",
  });

  let done = false;
  const stopping = server.shutdown().then(() => done = true);
  for (let i = 0; i < 20; i++) {
    // Refused, reset, or closed unanswered: never served.
    let late: RawClient;
    try {
      late = await t.connectRaw();
    } catch (err) {
      assert.ok(
        err instanceof Deno.errors.ConnectionRefused ||
          err instanceof Deno.errors.ConnectionReset,
        String(err),
      );
      continue;
    }
    try {
      await late.send({ requestId: 9, requestType: PING });
    } catch {
      // Reset before the ping went out: not served either.
    }
    assert.equal(await late.closedByServer(), true);
  }
  await assert.rejects(server.listen({ port: 0 }), /shutting down/);
  assert.equal(done, false, "shutdown did not wait for the handler");
  assert.equal(server.stats().sessionsOpened, 1);

  release.open();
  const res = await peer.read();
  assert.equal(res.requestId, 1);
  assert.equal(res.responseStatus, Status.OK);
  assert.deepEqual(res.data, new TextEncoder().encode("done"));
  await within(stopping, { message: "shutdown" });
  assert.equal(await peer.closedByServer(), true);
});

Deno.test("Server shutdown gives up on a hung handler at shutdownTimeout, not before", async () => {
  await using t = await startServer((server) => {
    server.handle("/hang", () => new Promise<undefined>(() => {}), {
      concurrent: true,
    });
  }, { shutdownTimeout: 100, handlerTimeout: 0, logLevel: "error" });
  // Restored before the server shuts down, so a failure cannot hang it.
  using time = new FakeTime();
  const { server } = t;
  const peer = await t.connectRaw();
  await peer.send({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/hang" },
  });
  const pong = await peer.call({ requestId: 2, requestType: PING });
  assert.equal(pong.responseType, PONG);

  let done = false;
  const stopping = server.shutdown().then(() => done = true);
  await waitFor(() => time.nextDelay === 100, {
    message: "the shutdown deadline to be armed",
  });
  await time.tickAsync(99);
  assert.equal(done, false, "shutdown gave up before shutdownTimeout");
  assert.equal(server.stats().sessions, 1);
  await time.tickAsync(1);
  await within(stopping, { message: "shutdown at its deadline" });
  assert.equal(await peer.closedByServer(), true);
  assert.equal(server.stats().sessions, 0);
});
