import assert from "node:assert/strict";
import { startServer, SUBSCRIBE, UPDATE, waitFor } from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { Topic } from "./topic.ts";
import type { TopicImplOptions } from "./_topic.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("Topic deliver reaches every other subscriber when a filter closes a session mid-walk", async () => {
  let topic: Topic | undefined;
  await using t = await startServer((server) => {
    topic = server.topic("/news", {
      // A filter that ends the session it is asked about, as an
      // authorisation check might.
      filter: (filter: Uint8Array, _update: Uint8Array, session) => {
        if (str(filter) !== "leave") return true;
        session.close("the filter sent it away");
        return false;
      },
    });
  });
  const peers = [];
  for (const filter of ["leave", "stay-1", "stay-2", "stay-3"]) {
    const peer = await t.connectRaw();
    const ack = await peer.call({
      requestId: 7,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/news" },
      data: text(filter),
    });
    assert.equal(ack.responseStatus, Status.OK);
    peers.push(peer);
  }
  assert.equal(topic!.size, 4);
  t.server.publish("/news", text("first"));
  // Closing the first session used to move the last subscriber into its
  // slot, behind the walk: it missed this update.
  for (const peer of peers.slice(1)) {
    const update = await peer.read();
    assert.deepEqual([update.responseType, str(update.data)], [
      UPDATE,
      "first",
    ]);
  }
  assert.equal(await peers[0].closedByServer(), true);
  assert.equal(topic!.size, 3);
  t.server.publish("/news", text("second"));
  for (const peer of peers.slice(1)) {
    assert.equal(str((await peer.read()).data), "second");
  }
  await waitFor(() => t.server.stats().subscriptions === 3, {
    message: "the closed session's subscription to go",
  });
});

Deno.test("Topic deliver walks subscribers from before a publish made inside it", async () => {
  let topic: Topic | undefined;
  let nested = false;
  await using t = await startServer((server) => {
    topic = server.topic("/t", {
      filter: (filter: Uint8Array, update: Uint8Array, session) => {
        // The first delivery closes a session, then publishes again from
        // inside the walk: both walks see every live subscriber once.
        if (str(filter) === "leave" && str(update) === "a") {
          session.close("gone");
          if (!nested) {
            nested = true;
            server.publish("/t", text("b"));
          }
          return false;
        }
        return str(filter) !== "leave";
      },
    });
  });
  const peers = [];
  for (const filter of ["leave", "x", "y"]) {
    const peer = await t.connectRaw();
    await peer.call({
      requestId: 1,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/t" },
      data: text(filter),
    });
    peers.push(peer);
  }
  t.server.publish("/t", text("a"));
  for (const peer of peers.slice(1)) {
    const got = [str((await peer.read()).data), str((await peer.read()).data)];
    assert.deepEqual(got.sort(), ["a", "b"]);
  }
  assert.equal(topic!.size, 2);
});

Deno.test("a filtered SUBSCRIBE waits for the topic's decoder to be ready, then subscribes", async () => {
  // What a typed topic registered after listen() does while protobuf-es
  // loads, with the wait in the test's hands.
  const asked = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  let ready = false;
  const options: TopicImplOptions = {
    filter: (filter: unknown, update: unknown) =>
      filter === str(update as Uint8Array),
    decodeFilter: (bytes) => {
      if (!ready) throw new Error("decoded before the decoder was ready");
      return str(bytes);
    },
    decoderReady: () => {
      asked.resolve();
      return ready ? undefined : gate.promise;
    },
  };
  await using t = await startServer((server) => {
    server.topic("/typed", options);
  });
  using peer = await t.connectRaw();
  const ack = peer.call({
    requestId: 3,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/typed" },
    data: text("red"),
  });
  // Without the wait the SUBSCRIBE would be answered (refused) first.
  const first = await Promise.race([
    asked.promise.then(() => "asked"),
    ack.then((a) => `answered ${a.responseStatus}: ${a.responseMessage}`),
  ]);
  assert.equal(first, "asked");
  ready = true;
  gate.resolve();
  assert.equal(
    (await ack).responseStatus,
    Status.OK,
    (await ack).responseMessage,
  );
  t.server.publish("/typed", text("blue"));
  t.server.publish("/typed", text("red"));
  const update = await peer.read();
  assert.deepEqual([update.requestId, str(update.data)], [3, "red"]);
});
