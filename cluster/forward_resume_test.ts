// Session resumption on a node whose sessions subscribe to topics of other
// nodes: the remote subscriptions of a lingering session survive its
// resume, and a connection holding one of its own cannot resume another.

import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST, SUBSCRIBE, UPDATE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import type { RawClient } from "../testing/raw_client.ts";
import { waitFor } from "../testing/wait.ts";
import { meshed, startNode, type TestNode } from "./_testing.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function call(raw: RawClient, id: number, type: number, path: string) {
  return raw.call({
    requestId: id,
    requestType: type,
    pathOneof: { case: "path", value: path },
  });
}

/** A node holding the topic `/remote`, and the node its peers use. */
async function holderAndHome() {
  await using stack = new AsyncDisposableStack();
  const nats = stack.use(await startNatsServer());
  const holder = stack.use(
    await startNode({
      servers: nats.url,
      setup: (s) => void s.topic("/remote"),
    }),
  );
  const home = stack.use(await startNode({ servers: nats.url }));
  await meshed([holder, home]);
  const owned = stack.move();
  return { holder, home, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** Asks `raw`'s connection to resume the session of `token`. */
function resume(raw: RawClient, token: Uint8Array) {
  return raw.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/resume" },
    data: token,
  });
}

/**
 * A session of `home` that took a token (after `first` set it up), then
 * lost its connection: lingering. Resolves its token.
 */
async function lingering(
  home: TestNode,
  first?: (raw: RawClient) => Promise<unknown>,
): Promise<Uint8Array> {
  const raw = await home.connect();
  await first?.(raw);
  const token = (await call(raw, 100, REQUEST, "/_nanorpc/session")).data
    .slice();
  raw.close();
  await waitFor(() => home.server.stats().lingeringSessions === 1);
  return token;
}

needsNats.test("NatsForwarder home node resumes a session with its remote subscription and the updates published while it lingered", async () => {
  await using nodes = await holderAndHome();
  const { holder, home } = nodes;
  const token = await lingering(
    home,
    (first) =>
      call(first, 7, SUBSCRIBE, "/remote").then((r) =>
        assert.equal(r.responseStatus, Status.OK)
      ),
  );
  holder.server.publish("/remote", encoder.encode("away"));
  await waitFor(() => home.server.stats().updatesSent === 1, {
    message: "the update to reach the home node",
  });
  const back = await home.connect();
  const answer = await resume(back, token);
  assert.equal(answer.responseStatus, Status.OK);
  const missed = await back.read();
  assert.deepEqual([
    missed.requestId,
    missed.responseType,
    decoder.decode(missed.data),
  ], [7, UPDATE, "away"]);
  holder.server.publish("/remote", encoder.encode("live"));
  const live = await back.read();
  assert.deepEqual([live.requestId, decoder.decode(live.data)], [7, "live"]);
});

needsNats.test("NatsForwarder home node refuses a resume on a connection subscribed to a topic of another node, which keeps it", async () => {
  await using nodes = await holderAndHome();
  const { holder, home } = nodes;
  const token = await lingering(home);
  const busy = await home.connect();
  assert.equal(
    (await call(busy, 9, SUBSCRIBE, "/remote")).responseStatus,
    Status.OK,
  );
  const refused = await resume(busy, token);
  assert.equal(refused.responseStatus, Status.NOT_FOUND);
  assert.match(refused.responseMessage, /before any subscription/);
  assert.equal(home.server.stats().lingeringSessions, 1);
  holder.server.publish("/remote", encoder.encode("still here"));
  const update = await busy.read();
  assert.deepEqual([update.requestId, update.responseType], [9, UPDATE]);
});
