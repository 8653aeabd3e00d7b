// A resumed session's replay of what it buffered while lingering: what its
// outgoing buffer cannot take is counted in the resume answer's `lost`.
// Which connections may resume, and the session limit when one lingers.

import assert from "node:assert/strict";
import {
  concat,
  Gate,
  PING,
  PONG,
  REQUEST,
  requestFrame,
  startServer,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { ServerStats } from "./stats.ts";

const { NOT_FOUND, OK } = Status;

/** The `lost` field (1) of a ResumeAnswer: 0 when absent. */
function lostOf(answer: Uint8Array): number {
  if (answer[0] !== 0x08) return 0;
  let lost = 0;
  for (let i = 1, scale = 1;; i++, scale *= 128) {
    lost += (answer[i] & 0x7f) * scale;
    if (answer[i] < 0x80) return lost;
  }
}

type Started = Awaited<ReturnType<typeof startServer>>;
type Peer = Awaited<ReturnType<Started["connectRaw"]>>;

/**
 * A session that took a token (and subscribed to `/t` as 7 when
 * `subscribe`), then lost its connection: lingering once `lingered` holds
 * for the server's stats (by default: the one lingering session).
 * Resolves its token.
 */
async function lingering(
  t: Started,
  subscribe: boolean,
  lingered = (s: ServerStats) => s.lingeringSessions === 1,
): Promise<Uint8Array> {
  const first = await t.connectRaw();
  const token = await tokenOf(first);
  if (subscribe) {
    await first.call({
      requestId: 7,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/t" },
    });
  }
  first.close();
  await waitFor(() => lingered(t.server.stats()), {
    message: "the session to linger",
  });
  return token;
}

/** Asks `peer`'s session for a resume token (request id 100). */
async function tokenOf(peer: Peer): Promise<Uint8Array> {
  return (await peer.call({
    requestId: 100,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/session" },
  })).data.slice();
}

/** Asks `peer`'s connection to resume the session of `token`. */
function resume(peer: Peer, id: number, token: Uint8Array) {
  return peer.call({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/resume" },
    data: token,
  });
}

Deno.test("Server resume counts in lost the buffered updates its outgoing buffer cannot take, and replays the rest", async () => {
  await using t = await startServer((s) => void s.topic("/t"), {
    outgoingBufferSize: 64 * 1024,
  });
  const token = await lingering(t, true);
  // 500 updates of 200 bytes: ~116 KB, more than half of 64 KiB.
  const published = 500;
  for (let i = 0; i < published; i++) {
    t.server.publish("/t", new Uint8Array(200).fill(i & 255));
  }
  const second = await t.connectRaw();
  const answer = await resume(second, 1, token);
  assert.equal(answer.responseStatus, 1);
  const lost = lostOf(answer.data);
  assert.ok(lost > 0 && lost < published, `lost ${lost}`);
  let last = -1;
  for (let i = 0; i < published - lost; i++) {
    const update = await second.read();
    assert.equal(update.responseType, UPDATE);
    last = update.data[0];
  }
  // The newest were kept; nothing else was queued before the PONG.
  assert.equal(last, (published - 1) & 255);
  const pong = await second.call({ requestId: 2, requestType: PING });
  assert.equal(pong.responseType, PONG);
  assert.equal(t.server.stats().droppedUpdates, lost);
});

Deno.test("Server refuses a resume on a connection that already subscribed, and the lingering session stays resumable", async () => {
  await using t = await startServer((s) => void s.topic("/t"), {});
  const token = await lingering(t, false);
  const busy = await t.connectRaw();
  await busy.call({
    requestId: 3,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  });
  const refused = await resume(busy, 4, token);
  assert.equal(refused.responseStatus, 2); // NOT_FOUND
  assert.match(refused.responseMessage, /before any subscription/);
  assert.equal(t.server.stats().lingeringSessions, 1);
  const fresh = await t.connectRaw();
  const resumed = await resume(fresh, 1, token);
  assert.equal(resumed.responseStatus, 1);
});

Deno.test("Server refuses a resume on a connection that joined a group, which keeps the connection as a member", async () => {
  await using t = await startServer((s) => {
    s.topic("/t");
    s.handle("/join", (ctx) => void s.group("room").add(ctx.session));
  });
  const token = await lingering(t, false);
  const member = await t.connectRaw();
  await member.call({
    requestId: 3,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/join" },
  });
  const refused = await resume(member, 4, token);
  assert.equal(refused.responseStatus, 2); // NOT_FOUND
  assert.match(refused.responseMessage, /before any subscription, group/);
  assert.equal(t.server.group("room").count, 1);
  assert.equal(t.server.stats().lingeringSessions, 1);
});

Deno.test("Server does not count a lingering session against maxSessions, so the connection that resumes it gets in", async () => {
  await using t = await startServer((s) => void s.topic("/t"), {
    maxSessions: 1,
  });
  const token = await lingering(t, true);
  const back = await t.connectRaw();
  const answer = await resume(back, 1, token);
  assert.equal(answer.responseStatus, 1);
  assert.equal(t.server.stats().sessionsRefused, 0);
  // The limit still holds for connections: a second one is refused.
  const extra = await t.connectRaw();
  assert.equal(await extra.closedByServer(), true);
  assert.equal(t.server.stats().sessionsRefused, 1);
});

Deno.test("Server keeps at most maxSessions sessions lingering: the oldest makes room, as if expired", async () => {
  await using t = await startServer((s) => void s.topic("/t"), {
    maxSessions: 2,
  });
  const oldest = await lingering(t, false);
  await lingering(t, false, (s) => s.lingeringSessions === 2);
  // A third: the oldest ends, counted as expired.
  const token = await lingering(
    t,
    false,
    (s) => s.resumesExpired === 1 && s.lingeringSessions === 2,
  );
  const back = await t.connectRaw();
  assert.equal((await resume(back, 1, oldest)).responseStatus, NOT_FOUND);
  assert.equal((await resume(back, 2, token)).responseStatus, OK);
  assert.equal(t.server.stats().lingeringSessions, 1);
});

Deno.test("Server taking over a connected session leaves its old connection's slow handler its own ctx.data", async () => {
  const gate = new Gate();
  const seen = Promise.withResolvers<string>();
  await using t = await startServer((server) => {
    server.handle("/slow", async (ctx) => {
      await gate.opened;
      seen.resolve(new TextDecoder().decode(ctx.data));
    });
  }, { handlerTimeout: 1000 });
  try {
    const old = await t.connectRaw();
    const token = await tokenOf(old);
    // The slow request, then most of another: its bytes stay in the read
    // buffer, behind the slow handler's data.
    const next = requestFrame({
      requestId: 2,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/slow" },
      data: new TextEncoder().encode("Z".repeat(64)),
    });
    await old.write(concat(
      requestFrame({
        requestId: 1,
        requestType: REQUEST,
        pathOneof: { case: "path", value: "/slow" },
        data: new TextEncoder().encode("A".repeat(64)),
      }),
      next.subarray(0, next.length - 1),
    ));
    await waitFor(() => t.server.stats().framesIn === 2);
    // Another connection takes the session over while the old one is open.
    const back = await t.connectRaw();
    assert.equal((await resume(back, 1, token)).responseStatus, OK);
    // The slow handler's time limit passes: the old connection's read goes
    // on and keeps the partial frame.
    const late = await back.read();
    assert.equal(late.requestId, 1);
    gate.open();
    assert.equal(await seen.promise, "A".repeat(64));
  } finally {
    gate.open();
  }
});
