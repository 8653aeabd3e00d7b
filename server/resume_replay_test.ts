// A resumed session's replay of what it buffered while lingering: what its
// outgoing buffer cannot take is counted in the resume answer's `lost`.

import assert from "node:assert/strict";
import {
  PING,
  PONG,
  REQUEST,
  startServer,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";

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
 * `subscribe`), then lost its connection: lingering. Resolves its token.
 */
async function lingering(t: Started, subscribe: boolean): Promise<Uint8Array> {
  const first = await t.connectRaw();
  const token = (await first.call({
    requestId: 100,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/session" },
  })).data.slice();
  if (subscribe) {
    await first.call({
      requestId: 7,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/t" },
    });
  }
  first.close();
  await waitFor(() => t.server.stats().lingeringSessions === 1, {
    message: "the session to linger",
  });
  return token;
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
