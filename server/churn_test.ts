// Churn: many connect / subscribe / join / disconnect
// cycles — clean, abrupt, or cut mid-frame — leave zero sessions,
// subscriptions, group memberships and uid bindings behind. The full
// 10,000-cycle count runs here and against `deno task server` in
// `deno task stress --churn`.

import assert from "node:assert/strict";
import {
  concat,
  RawClient,
  REQUEST,
  requestFrame,
  startServer,
  SUBSCRIBE,
  waitFor,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import { registerDemo, ROOM_MESSAGES } from "./demo.ts";
import type { Server } from "./server.ts";

const CYCLES = 10_000;
const CONCURRENCY = 32;

/** The demo, plus a handler that puts the caller in groups and binds it. */
function churnSetup(server: Server): void {
  registerDemo(server);
  server.handle("/lobby/enter", (ctx) => {
    server.group("lobby").add(ctx.session);
    server.group(`solo-${ctx.session.id % 7}`).add(ctx.session);
    ctx.session.bind(`player-${ctx.session.id}`);
  });
}

const subscribe = (id: number) =>
  requestFrame({
    requestId: id,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: ROOM_MESSAGES },
  });
const enter = requestFrame({
  requestId: 2,
  requestType: REQUEST,
  pathOneof: { case: "path", value: "/lobby/enter" },
});

/** One cycle; `kind` picks how the peer leaves. */
async function cycle(addr: Deno.Addr, kind: number): Promise<void> {
  const peer = await RawClient.connect(addr);
  try {
    const opening = concat(subscribe(1), subscribe(3), enter);
    if (kind === 0) {
      // Clean: wait for every answer, then leave.
      await peer.write(opening);
      for (let i = 0; i < 3; i++) {
        assert.equal((await peer.read()).responseStatus, Status.OK);
      }
    } else if (kind === 1) {
      // Abrupt: leave with the requests in flight.
      await peer.write(opening);
    } else {
      // Cut mid-frame: leave with half a frame sent.
      await peer.write(concat(opening, subscribe(5).subarray(0, 4)));
      assert.equal((await peer.read()).responseStatus, Status.OK);
    }
  } finally {
    peer.close();
  }
}

Deno.test(`Server leaves no session, subscription or membership behind after ${CYCLES} churn cycles`, async () => {
  await using t = await startServer(churnSetup, { logLevel: "error" });
  const { server } = t;
  const addr = t.tcp!;
  const watcher = await t.connectRaw();
  await watcher.send({
    requestId: 99,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: ROOM_MESSAGES },
  });
  assert.equal((await watcher.read()).responseStatus, Status.OK);

  let next = 0;
  const worker = async () => {
    while (next < CYCLES) await cycle(addr, next++ % 3);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  await waitFor(() => server.stats().sessions === 1, {
    message: "every churned session to close",
  });
  const stats = server.stats();
  assert.equal(stats.sessionsOpened, CYCLES + 1);
  assert.equal(stats.sessions, 1);
  assert.equal(stats.subscriptions, 1, "only the watcher's subscription");
  assert.equal(stats.groupMemberships, 0);
  assert.equal(stats.malformedCloses, 0);
  assert.equal(server.sessions.size, 1);
  assert.equal(server.group("lobby").count, 0);
  for (let i = 0; i < 7; i++) assert.equal(server.group(`solo-${i}`).count, 0);
  for (const session of server.sessions.values()) {
    assert.equal(session.subscriptionCount, 1);
  }
  assert.equal(server.sessionByUid("player-5"), undefined);

  // The watcher lived through all of it and its subscription still works.
  await watcher.send({
    requestId: 100,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/room/send" },
  });
  const seen = [await watcher.read(), await watcher.read()];
  assert.deepEqual(seen.map((r) => r.requestId).sort(), [100, 99]);
  watcher.close();
  await waitFor(() => server.stats().sessions === 0, {
    message: "the watcher's session to close",
  });
  assert.equal(server.stats().subscriptions, 0);
});
