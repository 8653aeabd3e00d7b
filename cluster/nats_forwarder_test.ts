import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST, RESPONSE, SUBSCRIBE, UPDATE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import type { RawClient } from "../testing/raw_client.ts";
import { waitFor } from "../testing/wait.ts";
import type { Server, Topic } from "../server/mod.ts";
import { meshed, startNode, type TestNode } from "./_testing.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function call(client: RawClient, requestId: number, path: string, data = "") {
  return client.call({
    requestId,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data: text(data),
  });
}

/** A node serving chat-like handlers and a filtered topic. */
function roomSetup(server: Server): Topic {
  const topic = server.topic("/room/messages", {
    filter: (filter: Uint8Array, update: Uint8Array) =>
      str(update).startsWith(`${str(filter)}:`),
  });
  server.handle("/room/join", (ctx) => {
    ctx.session.set("name", str(ctx.data));
  });
  server.handle("/room/send", (ctx) => {
    const from = ctx.session.get<string>("name") ?? "anonymous";
    server.publish("/room/messages", text(`${from}:${str(ctx.data)}`));
  });
  server.handle("/room/enter", (ctx) => {
    const name = ctx.session.get<string>("name")!;
    ctx.session.bind(name);
    server.group("lobby").add(ctx.session);
  });
  server.handle("/room/shout", (ctx) => {
    server.group("lobby").broadcast("/room/messages", ctx.copyData());
  });
  server.handle("/room/whisper", (ctx) => {
    const [to, what] = str(ctx.data).split("=");
    server.pushTo(to, "/room/messages", text(`${to}:${what}`));
  });
  server.handle("/room/note", (ctx) => {
    const name = ctx.session.get<string>("name")!;
    const note = text(`${name}:${str(ctx.data)}`);
    server.group("lobby").multicast("/room/messages", note, [ctx.session]);
  });
  server.handle("/slow", () => new Promise(() => {}));
  return topic;
}

needsNats.test("NatsForwarder forwards requests with the session's attributes, and what the remote handler set lives on the home node", async () => {
  await using nats = await startNatsServer();
  await using room = await startNode({ servers: nats.url, setup: roomSetup });
  await using echo = await startNode({
    servers: nats.url,
    setup: (s) => {
      s.handle("/echo", (ctx) => ctx.data);
      s.handle("/whoami", (ctx) => ctx.session.get<string>("name") ?? "?");
    },
  });
  room.server.handle("/room/name", (ctx) => ctx.session.get("name") ?? "?");
  const client = await echo.connect();
  assert.equal(
    (await call(client, 1, "/room/join", "alice")).responseStatus,
    Status.OK,
  );
  const name = await call(client, 2, "/room/name");
  assert.equal(str(name.data), "alice", "the next forwarded call sees it");
  assert.equal(
    str((await call(client, 3, "/whoami")).data),
    "alice",
    "a local handler sees it",
  );
  assert.equal(str((await call(client, 4, "/echo", "hi")).data), "hi");
  const fromRoom = await room.connect();
  const echoed = await call(fromRoom, 5, "/echo", "back");
  assert.equal(echoed.requestId, 5);
  assert.equal(str(echoed.data), "back", "the other way round too");
});

needsNats.test("NatsForwarder answers NOT_FOUND for a path no node serves, and keeps a session's answers in order", async () => {
  await using nats = await startNatsServer();
  await using a = await startNode({
    servers: nats.url,
    setup: (s) => s.handle("/a", () => "a"),
  });
  await using b = await startNode({
    servers: nats.url,
    setup: (s) => s.handle("/b", (ctx) => ctx.data),
  });
  const client = await a.connect();
  const missing = await call(client, 9, "/nowhere");
  assert.equal(missing.responseStatus, Status.NOT_FOUND);
  assert.match(
    missing.responseMessage,
    /No handler for path \/nowhere on any node/,
  );
  for (let i = 0; i < 20; i++) {
    await client.send({
      requestId: 100 + i,
      requestType: REQUEST,
      pathOneof: { case: "path", value: i % 2 ? "/a" : "/b" },
      data: text(String(i)),
    });
  }
  const ids: number[] = [];
  for (let i = 0; i < 20; i++) ids.push((await client.read()).requestId);
  assert.deepEqual(ids, Array.from({ length: 20 }, (_, i) => 100 + i));
  assert.equal(b.forward.stats.served, 10);
});

needsNats.test("NatsForwarder subscriptions to a topic of another node are filtered there, acknowledged, and silent after the unsubscribe ack", async () => {
  await using nats = await startNatsServer();
  let topic: Topic | undefined;
  await using room = await startNode({
    servers: nats.url,
    setup: (s) => void (topic = roomSetup(s)),
  });
  await using echo = await startNode({ servers: nats.url });
  const sub = await echo.connect();
  await sub.send({
    requestId: 7,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
    data: text("bob"),
  });
  const ack = await sub.read();
  assert.deepEqual([ack.requestId, ack.responseType, ack.responseStatus], [
    7,
    RESPONSE,
    Status.OK,
  ]);
  assert.equal(topic!.size, 1, "the room node holds it");
  assert.equal(echo.server.stats().subscriptions, 1, "the home node counts it");
  const bob = await echo.connect();
  await call(bob, 1, "/room/join", "bob");
  const carol = await room.connect();
  await call(carol, 1, "/room/join", "carol");
  await call(carol, 2, "/room/send", "not for you");
  await call(bob, 2, "/room/send", "hello");
  const update = await sub.read();
  assert.deepEqual([update.requestId, update.responseType, str(update.data)], [
    7,
    UPDATE,
    "bob:hello",
  ]);
  const unsub = await call(sub, 7, "/room/messages");
  assert.deepEqual([unsub.requestId, unsub.responseStatus], [7, Status.OK]);
  await call(bob, 3, "/room/send", "after");
  await waitFor(() => topic!.size === 0, { message: "the holder to let go" });
  const pong = await sub.call({ requestId: 99, requestType: 1 });
  assert.equal(pong.requestId, 99, "no UPDATE came before the pong");
  assert.equal(echo.server.stats().subscriptions, 0);
});

/**
 * Dave, a client of `home`: named through a forwarded /room/join,
 * subscribed to /room/messages as 2, and in the lobby (/room/enter).
 */
async function daveInLobby(home: TestNode): Promise<RawClient> {
  const dave = await home.connect();
  await call(dave, 1, "/room/join", "dave");
  await dave.send({
    requestId: 2,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
  });
  assert.equal((await dave.read()).responseStatus, Status.OK);
  assert.equal((await call(dave, 3, "/room/enter")).responseStatus, Status.OK);
  return dave;
}

needsNats.test("NatsForwarder remote handlers bind uids and add sessions to groups on their home node; broadcasts and pushes reach them", async () => {
  await using nats = await startNatsServer();
  await using room = await startNode({ servers: nats.url, setup: roomSetup });
  await using echo = await startNode({
    servers: nats.url,
    setup: (s) => s.topic("/room/messages"),
  });
  const dave = await daveInLobby(echo);
  assert.equal(echo.server.sessionByUid("dave")?.uid, "dave");
  assert.equal(echo.server.group("lobby").count, 1);
  await echo.broker.flush();
  const shouter = await room.connect();
  await call(shouter, 1, "/room/shout", "all:hi");
  const shout = await dave.read();
  assert.deepEqual([shout.requestId, shout.responseType, str(shout.data)], [
    2,
    UPDATE,
    "all:hi",
  ]);
  await call(shouter, 2, "/room/whisper", "dave=psst");
  assert.equal(str((await dave.read()).data), "dave:psst");
});

needsNats.test("NatsForwarder: a remote handler's multicast to its caller's session reaches it on its home node, not a session of the same id elsewhere", async () => {
  await using nats = await startNatsServer();
  await using _room = await startNode({ servers: nats.url, setup: roomSetup });
  await using echo = await startNode({
    servers: nats.url,
    setup: (s) => s.topic("/room/messages"),
  });
  const dave = await daveInLobby(echo);
  await echo.broker.flush();
  await dave.send({
    requestId: 4,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/room/note" },
    data: text("for me"),
  });
  // The update (sent while the handler runs) and the answer, in some order.
  const frames = [await dave.read(), await dave.read()];
  const note = frames.find((f) => f.responseType === UPDATE);
  assert.ok(note, "the multicast reached the caller");
  assert.deepEqual([note.requestId, str(note.data)], [2, "dave:for me"]);
  assert.ok(frames.some((f) => f.requestId === 4 && f.responseStatus === 1));
});

needsNats.test("NatsForwarder answers INTERNAL_ERROR within the handler time limit when the serving node does not answer", async () => {
  await using nats = await startNatsServer();
  await using room = await startNode({
    servers: nats.url,
    setup: roomSetup,
    server: { handlerTimeout: 60_000 },
  });
  await using echo = await startNode({
    servers: nats.url,
    server: { handlerTimeout: 300 },
  });
  const client = await echo.connect();
  const started = performance.now();
  const answer = await call(client, 1, "/slow");
  assert.equal(answer.responseStatus, Status.INTERNAL_ERROR);
  assert.match(answer.responseMessage, /within 300 ms/);
  assert.ok(performance.now() - started < 3000);
  assert.equal(echo.forward.stats.timedOut, 1);
  assert.equal(
    str((await call(client, 2, "/room/join", "x")).data),
    "",
    "the session goes on",
  );
  void room;
});

needsNats.test("NatsForwarder routes calls with the same key to the same node", async () => {
  await using nats = await startNatsServer();
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const id = String(i);
    nodes.push(
      await startNode({
        servers: nats.url,
        setup: (s) => void s.handle("/id", () => id),
      }),
    );
  }
  await using front = await startNode({
    servers: nats.url,
    forward: {
      routeKey: (c) => c.session.attributes.get("room") as string | undefined,
    },
    setup: (s) =>
      s.handle("/room", (ctx) => void ctx.session.set("room", str(ctx.data))),
  });
  try {
    await meshed([...nodes, front]);
    const seen = new Map<string, Set<string>>();
    // Node ids are random UUIDs: 6 keys would all land on one of 3 nodes
    // once in 243 runs, 24 keys once in 10^11.
    const rooms = Array.from({ length: 24 }, (_, i) => `r${i + 1}`);
    for (const room of rooms) {
      const client = await front.connect();
      await call(client, 1, "/room", room);
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) {
        ids.add(str((await call(client, 2 + i, "/id")).data));
      }
      seen.set(room, ids);
    }
    for (const [room, ids] of seen) {
      assert.equal(ids.size, 1, `${room} went to ${[...ids]}`);
    }
    const used = new Set([...seen.values()].map((s) => [...s][0]));
    assert.ok(used.size > 1, "different keys spread over the nodes");
    const unkeyed = await front.connect();
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) {
      ids.add(str((await call(unkeyed, i, "/id")).data));
    }
    assert.ok(ids.size > 1, "calls without a key are load-balanced");
  } finally {
    for (const n of nodes) await n.close();
  }
});

needsNats.test("NatsForwarder pushes to a session reach its subscriptions held by another node, through that node's filter", async () => {
  await using nats = await startNatsServer();
  await using room = await startNode({ servers: nats.url, setup: roomSetup });
  await using echo = await startNode({ servers: nats.url });
  const erin = await echo.connect();
  await call(erin, 1, "/room/join", "erin");
  await erin.send({
    requestId: 2,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
    data: text("erin"),
  });
  assert.equal((await erin.read()).responseStatus, Status.OK);
  await call(erin, 3, "/room/enter");
  await echo.broker.flush();
  const other = await room.connect();
  await call(other, 1, "/room/shout", "frank:filtered out");
  await call(other, 2, "/room/shout", "erin:to the lobby");
  const shout = await erin.read();
  assert.deepEqual([shout.requestId, str(shout.data)], [
    2,
    "erin:to the lobby",
  ]);
  await call(other, 3, "/room/whisper", "erin=psst");
  assert.equal(str((await erin.read()).data), "erin:psst");
});

needsNats.test("NatsForwarder subscribes again on another node when the holder leaves, and lets go when the session ends", async () => {
  await using nats = await startNatsServer();
  const topics: Topic[] = [];
  const holder = (s: Server) => void topics.push(roomSetup(s));
  const r1 = await startNode({ servers: nats.url, setup: holder });
  await using r2 = await startNode({ servers: nats.url, setup: holder });
  await using echo = await startNode({ servers: nats.url });
  try {
    await meshed([r1, r2, echo]);
    const watcher = await echo.connect();
    await watcher.send({
      requestId: 3,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/room/messages" },
    });
    assert.equal((await watcher.read()).responseStatus, Status.OK);
    const [first, other] = topics[0].size === 1 ? [r1, r2] : [r2, r1];
    const otherTopic = topics[first === r1 ? 1 : 0];
    await first.close();
    await waitFor(() => otherTopic.size === 1, {
      message: "the other node to hold the subscription",
    });
    const sender = await other.connect();
    // The holder has it, but the home node drops updates until the holder's
    // answer reaches it: publish until one comes through.
    const update = watcher.read(30_000);
    let delivered = false;
    update.finally(() => delivered = true).catch(() => {});
    for (let id = 1; !delivered; id++) {
      await call(sender, id, "/room/send", "still here");
      await waitFor(() => delivered, 200).catch(() => {});
    }
    assert.equal(str((await update).data), "anonymous:still here");
    watcher.close();
    await waitFor(() => otherTopic.size === 0, {
      message: "the holder to let go when the session ended",
    });
  } finally {
    await r1.close();
  }
});

needsNats.test("NatsForwarder carries what a remote handler does to a kept session after its answer", async () => {
  await using nats = await startNatsServer();
  let kept: import("../server/mod.ts").Session | undefined;
  await using room = await startNode({
    servers: nats.url,
    setup: (s) => {
      s.handle("/keep", (ctx) => void (kept = ctx.session));
    },
  });
  await using echo = await startNode({
    servers: nats.url,
    setup: (s) => {
      s.topic("/later");
      s.handle("/name", (ctx) => ctx.session.get<string>("name") ?? "?");
    },
  });
  const client = await echo.connect();
  await client.send({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/later" },
  });
  assert.equal((await client.read()).responseStatus, Status.OK);
  await call(client, 2, "/keep");
  kept!.set("name", "kept");
  kept!.push("/later", text("pushed later"));
  const update = await client.read();
  assert.deepEqual([update.requestId, str(update.data)], [1, "pushed later"]);
  assert.equal(str((await call(client, 3, "/name")).data), "kept");
  void room;
});
