// Topics, filters, unsubscribe, pushes and groups over real sockets with
// raw protobuf-es frames.

import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  ChatMessageSchema,
} from "../proto/gen/chat_pb.ts";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import {
  FakeTime,
  type RawClient,
  recordingLogger,
  startServer,
  waitFor,
} from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import type { Server } from "./server.ts";

const { REQUEST, SUBSCRIBE } = RequestType;
const text = (s: string) => new TextEncoder().encode(s);

/** The demo server, plus what `setup` registers. */
function start(setup?: (s: Server) => void) {
  return startServer((server) => {
    registerDemo(server);
    setup?.(server);
  });
}

const call = (
  p: RawClient,
  id: number,
  path: string,
  data = new Uint8Array(),
  type: number = REQUEST,
) =>
  p.call({
    requestId: id,
    requestType: type,
    pathOneof: { case: "path", value: path },
    data,
  });

Deno.test("Server acks SUBSCRIBE and sends UPDATEs with the subscription's id", async () => {
  await using t = await start((s) => s.topic("/ticks"));
  const p = await t.connectRaw();
  const ack = await call(p, 77, "/ticks", new Uint8Array(), SUBSCRIBE);
  assert.deepEqual([ack.requestId, ack.responseType, ack.responseStatus], [
    77,
    ResponseType.RESPONSE,
    Status.OK,
  ]);
  for (let i = 0; i < 3; i++) t.server.publish("/ticks", new Uint8Array([i]));
  for (let i = 0; i < 3; i++) {
    const u = await p.read();
    assert.deepEqual([u.requestId, u.responseType, u.responseStatus], [
      77,
      ResponseType.UPDATE,
      Status.OK,
    ]);
    assert.deepEqual(u.data, new Uint8Array([i]));
  }
});

Deno.test("Server answers SUBSCRIBE to an unregistered path with NOT_FOUND", async () => {
  await using t = await start();
  const p = await t.connectRaw();
  const r = await call(p, 1, "/no/topic", new Uint8Array(), SUBSCRIBE);
  assert.equal(r.responseStatus, Status.NOT_FOUND);
  assert.match(r.responseMessage, /No topic for path \/no\/topic/);
  const handlerOnly = await call(p, 2, "/echo", new Uint8Array(), SUBSCRIBE);
  assert.equal(handlerOnly.responseStatus, Status.NOT_FOUND);
});

Deno.test("Server sends no UPDATE for a subscription after its unsubscribe ack", async () => {
  await using t = await start((s) => s.topic("/ticks"));
  const p = await t.connectRaw();
  await call(p, 5, "/ticks", new Uint8Array(), SUBSCRIBE);
  t.server.publish("/ticks", text("before"));
  assert.equal(new TextDecoder().decode((await p.read()).data), "before");
  const ack = await call(p, 5, "/ticks");
  assert.deepEqual([ack.requestId, ack.responseType, ack.responseStatus], [
    5,
    ResponseType.RESPONSE,
    Status.OK,
  ]);
  t.server.publish("/ticks", text("after"));
  const pong = await p.call({ requestId: 6, requestType: RequestType.PING });
  assert.equal(pong.requestId, 6, "the next frame is the pong, not an update");
  assert.equal(t.server.stats().subscriptions, 0);
});

Deno.test("Server treats a REQUEST with the subscription's id but data as a request", async () => {
  await using t = await start((s) => {
    s.topic("/both");
    s.handle("/both", (ctx) => ctx.data);
  });
  const p = await t.connectRaw();
  await call(p, 9, "/both", new Uint8Array(), SUBSCRIBE);
  const r = await call(p, 9, "/both", text("x"));
  assert.deepEqual(r.data, text("x"));
  assert.equal(t.server.stats().subscriptions, 1);
});

Deno.test("Server delivers room messages only to subscribers whose filter matches", async () => {
  await using t = await start();
  const alice = await t.connectRaw();
  const all = await t.connectRaw();
  const onlyBob = await t.connectRaw();
  await call(
    alice,
    1,
    "/room/join",
    toBinary(ChatJoinSchema, create(ChatJoinSchema, { name: "alice" })),
  );
  const everything = await call(
    all,
    2,
    "/room/messages",
    new Uint8Array(),
    SUBSCRIBE,
  );
  assert.equal(everything.responseStatus, Status.OK);
  const filter = toBinary(
    ChatFilterSchema,
    create(ChatFilterSchema, { from: "bob" }),
  );
  assert.equal(
    (await call(onlyBob, 3, "/room/messages", filter, SUBSCRIBE))
      .responseStatus,
    Status.OK,
  );

  const send = (p: RawClient, id: number, msg: string) =>
    call(
      p,
      id,
      "/room/send",
      toBinary(
        ChatMessageSchema,
        create(ChatMessageSchema, { from: "ignored", text: msg }),
      ),
    );
  assert.equal(
    (await send(alice, 10, "hi from alice")).responseStatus,
    Status.OK,
  );
  const bob = await t.connectRaw();
  await call(
    bob,
    1,
    "/room/join",
    toBinary(ChatJoinSchema, create(ChatJoinSchema, { name: "bob" })),
  );
  await send(bob, 11, "hi from bob");
  const anon = await t.connectRaw();
  await send(anon, 12, "who am I");

  const got = async (p: RawClient) =>
    fromBinary(ChatMessageSchema, (await p.read()).data);
  assert.deepEqual([
    (await got(all)).from,
    (await got(all)).from,
    (await got(all)).from,
  ], ["alice", "bob", "anonymous"]);
  const b = await got(onlyBob);
  assert.deepEqual([b.from, b.text], ["bob", "hi from bob"]);
  const pong = await onlyBob.call({
    requestId: 99,
    requestType: RequestType.PING,
  });
  assert.equal(
    pong.requestId,
    99,
    "no other update reached the filtered subscriber",
  );
});

Deno.test("Server refuses a subscription filter that does not decode", async () => {
  await using t = await start();
  const p = await t.connectRaw();
  const r = await call(
    p,
    1,
    "/room/messages",
    new Uint8Array([0x0f]),
    SUBSCRIBE,
  );
  assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
  assert.match(r.responseMessage, /Invalid subscription filter/);
  assert.equal(t.server.stats().subscriptions, 0);
});

Deno.test("Server ends every subscription of a session when it disconnects", async () => {
  await using t = await start((s) => s.topic("/ticks"));
  const p = await t.connectRaw();
  for (let id = 1; id <= 50; id++) {
    await call(p, id, "/ticks", new Uint8Array(), SUBSCRIBE);
  }
  assert.equal(t.server.stats().subscriptions, 50);
  p.close();
  await waitFor(() => t.server.stats().sessions === 0, {
    message: "the session to close",
  });
  assert.deepEqual(
    [t.server.stats().sessions, t.server.stats().subscriptions],
    [0, 0],
  );
});

Deno.test("Session.push reaches only that session's subscriptions to the path", async () => {
  let target: import("./session.ts").Session | undefined;
  await using t = await start((s) => {
    s.topic("/inbox");
    s.handle("/me", (ctx) => {
      target = ctx.session;
      ctx.session.bind("u1");
    });
  });
  const a = await t.connectRaw();
  const b = await t.connectRaw();
  await call(a, 1, "/inbox", new Uint8Array(), SUBSCRIBE);
  await call(b, 1, "/inbox", new Uint8Array(), SUBSCRIBE);
  await call(a, 2, "/me");
  assert.equal(target!.push("/inbox", text("direct")), 1);
  t.server.pushTo("u1", "/inbox", text("by uid"));
  assert.equal(new TextDecoder().decode((await a.read()).data), "direct");
  assert.equal(new TextDecoder().decode((await a.read()).data), "by uid");
  assert.equal(t.server.sessionByUid("u1"), target);
  assert.equal(
    (await b.call({ requestId: 3, requestType: RequestType.PING })).requestId,
    3,
  );
});

Deno.test("Server's sessionclose still reads the closed session's uid, which no longer reaches it", async () => {
  await using t = await start((s) => {
    s.topic("/inbox");
    s.handle("/me", (ctx) => void ctx.session.bind("u1"));
  });
  const closed = Promise.withResolvers<string | undefined>();
  t.server.addEventListener("sessionclose", (event) => {
    closed.resolve(event.session.uid);
  });
  const a = await t.connectRaw();
  await call(a, 1, "/me");
  a.close();
  assert.equal(await closed.promise, "u1");
  assert.equal(t.server.sessionByUid("u1"), undefined);
  // The uid is free: another session binds it and gets what is sent to it.
  const b = await t.connectRaw();
  await call(b, 1, "/inbox", new Uint8Array(), SUBSCRIBE);
  await call(b, 2, "/me");
  t.server.pushTo("u1", "/inbox", text("to the new one"));
  assert.equal(
    new TextDecoder().decode((await b.read()).data),
    "to the new one",
  );
});

Deno.test("Group broadcasts to members, multicasts to some, and forgets closed sessions", async () => {
  await using t = await start((s) => {
    s.topic("/room/events");
    s.handle("/enter", (ctx) => {
      s.group("lobby").add(ctx.session);
      ctx.session.bind(new TextDecoder().decode(ctx.data));
    });
  });
  const lobby = t.server.group("lobby");
  const peers = [
    await t.connectRaw(),
    await t.connectRaw(),
    await t.connectRaw(),
  ];
  for (const [i, p] of peers.entries()) {
    await call(p, 1, "/room/events", new Uint8Array(), SUBSCRIBE);
    if (i < 2) await call(p, 2, "/enter", text(`p${i}`));
  }
  assert.equal(lobby.count, 2);
  lobby.broadcast("/room/events", text("all"));
  lobby.multicast("/room/events", text("one"), ["p1", "p2"]);
  assert.equal(new TextDecoder().decode((await peers[0].read()).data), "all");
  assert.equal(new TextDecoder().decode((await peers[1].read()).data), "all");
  assert.equal(new TextDecoder().decode((await peers[1].read()).data), "one");
  assert.equal(
    (await peers[2].call({ requestId: 5, requestType: RequestType.PING }))
      .requestId,
    5,
  );
  assert.equal(t.server.stats().groupMemberships, 2);
  peers[0].close();
  await waitFor(() => lobby.count === 1, {
    message: "the group to forget the closed session",
  });
  assert.equal(t.server.stats().groupMemberships, 1);
});

Deno.test("Server.publish throws for a path that has no topic", async () => {
  await using t = await start();
  assert.throws(
    () => t.server.publish("/nothing", new Uint8Array()),
    /No topic at \/nothing/,
  );
});

Deno.test("Server sends each subscriber its own id in UPDATEs encoded once per id, in order with its responses", async () => {
  await using t = await start((s) => {
    s.topic("/ticks");
    s.handle("/publish-two", () => {
      s.publish("/ticks", new Uint8Array([1, 2, 3]));
      s.publish("/ticks", new Uint8Array([4]));
      return text("published");
    });
  });
  // Three share id 5; there are more ids than a publish shares frames for.
  const ids = [5, 5, 5, 1, 2, 3, 4, 6, 7, -8, 0];
  const peers: RawClient[] = [];
  for (const id of ids) {
    const p = await t.connectRaw();
    const ack = await call(p, id, "/ticks", new Uint8Array(), SUBSCRIBE);
    assert.equal(ack.responseStatus, Status.OK);
    peers.push(p);
  }
  // The publisher's updates and its response go out in one write, in order.
  await peers[0].send({
    requestId: 99,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/publish-two" },
  });
  for (const [i, p] of peers.entries()) {
    for (const data of [[1, 2, 3], [4]]) {
      const u = await p.read();
      assert.deepEqual(
        [u.requestId, u.responseType, u.responseStatus, [...u.data]],
        [ids[i], ResponseType.UPDATE, Status.OK, data],
        `subscriber ${i}`,
      );
    }
  }
  const response = await peers[0].read();
  assert.deepEqual(
    [response.requestId, response.responseType, response.data],
    [99, ResponseType.RESPONSE, text("published")],
  );
});

Deno.test("Server delivers an update its filters cannot decode to the unfiltered subscriptions, and skips only the filtered", async () => {
  await using t = await start((s) =>
    void s.topic("/t", {
      decodeUpdate: (bytes: Uint8Array) => {
        if (bytes[0] === 0xff) throw new Error("not an update");
        return bytes;
      },
      filter: (filter: Uint8Array, update: Uint8Array) =>
        filter[0] === update[0],
    })
  );
  const all = await t.connectRaw();
  const some = await t.connectRaw();
  await call(all, 1, "/t", new Uint8Array(), SUBSCRIBE);
  await call(some, 2, "/t", new Uint8Array([0xff]), SUBSCRIBE);
  t.server.publish("/t", new Uint8Array([0xff]));
  const update = await all.read();
  assert.deepEqual([update.requestId, update.responseType, update.data[0]], [
    1,
    ResponseType.UPDATE,
    0xff,
  ]);
  // The filtered one got nothing: its next frame is the answer to a PING.
  const pong = await some.call({ requestId: 9, requestType: RequestType.PING });
  assert.equal(pong.requestId, 9);
});

Deno.test("Server logs a filter that throws at most once a second per topic, and says how many failures it did not log", async () => {
  const logger = recordingLogger();
  await using t = await startServer((s) =>
    void s.topic("/t", {
      filter: () => {
        throw new Error("filter broke");
      },
    }), { logger });
  const peer = await t.connectRaw();
  for (let id = 1; id <= 50; id++) {
    await call(peer, id, "/t", new Uint8Array([1]), SUBSCRIBE);
  }
  using time = new FakeTime();
  t.server.publish("/t", new Uint8Array([1]));
  t.server.publish("/t", new Uint8Array([1]));
  const pong = await peer.call({
    requestId: 99,
    requestType: RequestType.PING,
  });
  assert.equal(pong.requestId, 99); // No update got through the filter.
  assert.deepEqual(logger.at("error"), [
    "the filter of /t threw: filter broke",
  ]);
  time.tick(1000);
  t.server.publish("/t", new Uint8Array([1]));
  await waitFor(() => logger.at("error").length === 2, {
    message: "the second line",
  });
  assert.equal(
    logger.at("error")[1],
    "the filter of /t threw: filter broke (and 99 more failures since the last report)",
  );
  // Every failure is counted, logged or not: 3 publishes to 50 subscribers.
  assert.equal(t.server.stats().topicFailures, 150);
  assert.match(t.server.metrics(), /^nanorpc_topic_failures_total 150$/m);
});
