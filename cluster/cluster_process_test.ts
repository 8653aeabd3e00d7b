// `deno task server` processes joined through a real nats-server: the
// issue's bar, end to end.

import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  ChatMessageSchema,
} from "../proto/gen/chat_pb.ts";
import { Status } from "../wasm/wire.ts";
import {
  type NanoRPCResponse,
  PING,
  REQUEST,
  SUBSCRIBE,
  UPDATE,
} from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { RawClient } from "../testing/raw_client.ts";
import { waitFor } from "../testing/wait.ts";
import { spawnServer } from "./_testing.ts";

const EXTRAS = new URL("../testing/chat_extras.ts", import.meta.url).pathname;

/** A `deno task server` node of the cluster at `url` serving part of the demo. */
function node(url: string, demo: string, ...args: string[]) {
  return spawnServer([
    "--nats",
    url,
    "--demo",
    demo,
    ...args,
    "--tcp",
    "127.0.0.1:0",
  ]);
}
const text = (s: string) => new TextEncoder().encode(s);

function send(
  c: RawClient,
  requestId: number,
  path: string,
  data = new Uint8Array(),
) {
  return c.send({
    requestId,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data,
  });
}

async function call(
  c: RawClient,
  requestId: number,
  path: string,
  data = new Uint8Array(),
) {
  await send(c, requestId, path, data);
  return await c.read(20_000);
}

const join = (name: string) =>
  toBinary(ChatJoinSchema, create(ChatJoinSchema, { name }));
const message = (t: string, from = "") =>
  toBinary(ChatMessageSchema, create(ChatMessageSchema, { text: t, from }));
const chat = (r: NanoRPCResponse) => {
  const m = fromBinary(ChatMessageSchema, r.data);
  return `${m.from}:${m.text}`;
};

async function subscribe(c: RawClient, requestId: number, from: string) {
  await c.send({
    requestId,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
    data: from
      ? toBinary(ChatFilterSchema, create(ChatFilterSchema, { from }))
      : new Uint8Array(),
  });
  const ack = await c.read(20_000);
  assert.deepEqual(
    [ack.requestId, ack.responseStatus],
    [requestId, Status.OK],
    ack.responseMessage,
  );
}

/** No UPDATE is queued: the next frame is the answer to a PING. */
async function quiet(c: RawClient) {
  const pong = await c.call({ requestId: 4242, requestType: PING });
  assert.equal(
    pong.requestId,
    4242,
    `expected the pong, got ${pong.responseType} for ${pong.requestId}`,
  );
}

needsNats.test("deno task server nodes forward requests and share a topic across nodes, filtered, silent after the unsubscribe ack", async () => {
  await using nats = await startNatsServer();
  await using room = await node(nats.url, "room");
  await using echo = await node(nats.url, "echo");
  using onRoom = await RawClient.connect(room.addr);
  const echoed = await call(onRoom, 1, "/echo", text("via the echo node"));
  assert.equal(new TextDecoder().decode(echoed.data), "via the echo node");

  using watcher = await RawClient.connect(echo.addr);
  await subscribe(watcher, 5, "alice");
  using alice = await RawClient.connect(echo.addr);
  assert.equal(
    (await call(alice, 1, "/room/join", join("alice"))).responseStatus,
    Status.OK,
  );
  assert.equal(
    (await call(alice, 2, "/room/send", message("from the echo node")))
      .responseStatus,
    Status.OK,
  );
  using bob = await RawClient.connect(room.addr);
  await call(bob, 1, "/room/join", join("bob"));
  await call(bob, 2, "/room/send", message("filtered out"));
  using alice2 = await RawClient.connect(room.addr);
  await call(alice2, 1, "/room/join", join("alice"));
  await call(alice2, 2, "/room/send", message("from the room node"));
  const first = await watcher.read(20_000);
  const second = await watcher.read(20_000);
  assert.deepEqual([first.requestId, first.responseType], [5, UPDATE]);
  assert.deepEqual([chat(first), chat(second)], [
    "alice:from the echo node",
    "alice:from the room node",
  ]);

  const ack = await call(watcher, 5, "/room/messages");
  assert.deepEqual([ack.requestId, ack.responseStatus], [5, Status.OK]);
  await call(alice, 3, "/room/send", message("after the ack"));
  await call(alice2, 3, "/room/send", message("after the ack"));
  await quiet(watcher);
});

needsNats.test("deno task server nodes carry group broadcasts and uid pushes to sessions of another node", async () => {
  await using nats = await startNatsServer();
  await using room = await node(nats.url, "room", "--module", EXTRAS);
  await using echo = await node(nats.url, "echo");
  using carol = await RawClient.connect(echo.addr);
  await call(carol, 1, "/room/join", join("carol"));
  await subscribe(carol, 2, "");
  assert.equal((await call(carol, 3, "/room/enter")).responseStatus, Status.OK);
  using dan = await RawClient.connect(room.addr);
  await call(dan, 1, "/room/join", join("dan"));
  await call(dan, 2, "/room/enter");
  await subscribe(dan, 3, "");
  using shouter = await RawClient.connect(room.addr);
  await call(shouter, 1, "/room/shout", message("everyone", "lobby"));
  assert.equal(chat(await carol.read(20_000)), "lobby:everyone");
  assert.equal(chat(await dan.read(20_000)), "lobby:everyone");
  await call(shouter, 2, "/room/whisper", message("psst", "carol"));
  const whisper = await carol.read(20_000);
  assert.deepEqual([whisper.requestId, chat(whisper)], [2, "carol:psst"]);
  await quiet(carol);
  await quiet(dan);
});

needsNats.test("deno task server answers INTERNAL_ERROR within the time limit when the serving node is killed mid-request, then NOT_FOUND", async () => {
  await using nats = await startNatsServer();
  await using room = await node(nats.url, "room", "--module", EXTRAS);
  await using echo = await node(nats.url, "echo", "--handler-timeout", "2000");
  using client = await RawClient.connect(echo.addr);
  const started = performance.now();
  await send(client, 1, "/room/stall");
  await room.waitFor(/stall started/);
  await room.kill("SIGKILL");
  const answer = await client.read(10_000);
  const took = performance.now() - started;
  assert.deepEqual([answer.requestId, answer.responseStatus], [
    1,
    Status.INTERNAL_ERROR,
  ]);
  assert.match(answer.responseMessage, /within 2000 ms/);
  assert.ok(took < 4000, `answered after ${took} ms`);
  const gone = await call(client, 2, "/room/join", join("x"));
  assert.equal(gone.responseStatus, Status.NOT_FOUND, gone.responseMessage);
  assert.equal(
    (await call(client, 3, "/echo", text("still here"))).responseStatus,
    Status.OK,
  );
});

needsNats.test("deno task server keeps answering locally while NATS is down, and forwards again within 20 s of its restart", async () => {
  await using nats = await startNatsServer();
  await using room = await node(nats.url, "room");
  await using echo = await node(nats.url, "echo");
  using watcher = await RawClient.connect(echo.addr);
  await subscribe(watcher, 9, "erin");
  using erin = await RawClient.connect(echo.addr);
  await call(erin, 1, "/room/join", join("erin"));

  await nats.stop();
  await echo.waitFor(/lost NATS/);
  const local = await call(erin, 2, "/echo", text("local"));
  assert.equal(local.responseStatus, Status.OK);
  const down = await call(erin, 3, "/room/send", message("while down"));
  assert.equal(down.responseStatus, Status.INTERNAL_ERROR);
  assert.match(down.responseMessage, /NATS is unreachable/);
  using onRoom = await RawClient.connect(room.addr);
  assert.equal(
    (await call(onRoom, 1, "/room/join", join("frank"))).responseStatus,
    Status.OK,
    "the room node's own handlers answer",
  );

  await nats.restart();
  const back = performance.now();
  let id = 10;
  await waitFor(async () => {
    const r = await call(erin, id++, "/room/send", message("back"));
    return r.responseStatus === Status.OK;
  }, { timeout: 20_000, interval: 200, message: "forwarding to work again" });
  // The remote subscription is made again by itself: keep sending until
  // the watcher hears one.
  let heard: NanoRPCResponse | undefined;
  const reading = watcher.read(20_000).then((u) => heard = u);
  await waitFor(async () => {
    if (!heard) await call(erin, id++, "/room/send", message("back"));
    return heard !== undefined;
  }, { timeout: 20_000, interval: 250, message: "the watcher to hear again" });
  await reading;
  assert.equal(chat(heard!), "erin:back");
  assert.ok(performance.now() - back < 20_000);
});

/** Sockets listening on `port` (IPv4), from /proc/net/tcp. */
async function listeningSockets(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const table = await Deno.readTextFile("/proc/net/tcp");
  return table.split("\n").filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hex}`) && f[3] === "0A";
  }).length;
}

Deno.test("deno task server --workers 2 listens twice on one port and every one of 16 subscribers gets one published update", async () => {
  await using pool = await spawnServer([
    "--workers",
    "2",
    "--tcp",
    "127.0.0.1:0",
  ]);
  const line = await pool.waitFor(/2 workers listening on/);
  assert.match(line, /tcp:\/\/127\.0\.0\.1:\d+/);
  assert.equal(await listeningSockets(pool.addr.port), 2);
  const subscribers: RawClient[] = [];
  try {
    for (let i = 0; i < 16; i++) {
      const c = await RawClient.connect(pool.addr);
      subscribers.push(c);
      await subscribe(c, 1, "");
    }
    using sender = await RawClient.connect(pool.addr);
    await call(sender, 1, "/room/join", join("gil"));
    await call(sender, 2, "/room/send", message("to all 16"));
    for (const c of subscribers) {
      const u = await c.read(10_000);
      assert.deepEqual([u.responseType, chat(u)], [UPDATE, "gil:to all 16"]);
    }
    for (const c of subscribers) await quiet(c);
  } finally {
    for (const c of subscribers) c.close();
  }
  await pool.kill("SIGTERM");
  assert.ok(
    pool.lines.some((l) => /served \d+ sessions.*\(2 workers\)/.test(l)),
    pool.lines.join("\n"),
  );
});

needsNats.test("deno task server --workers 2 --nats shares a topic between the workers through NATS", async () => {
  await using nats = await startNatsServer();
  await using pool = await spawnServer([
    "--workers",
    "2",
    "--nats",
    nats.url,
    "--tcp",
    "127.0.0.1:0",
  ]);
  await pool.waitFor(/2 workers listening on/);
  const subscribers: RawClient[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const c = await RawClient.connect(pool.addr);
      subscribers.push(c);
      await subscribe(c, 1, "");
    }
    using sender = await RawClient.connect(pool.addr);
    await call(sender, 1, "/room/join", join("hal"));
    await call(sender, 2, "/room/send", message("through NATS"));
    for (const c of subscribers) {
      assert.equal(chat(await c.read(10_000)), "hal:through NATS");
    }
    for (const c of subscribers) await quiet(c);
  } finally {
    for (const c of subscribers) c.close();
  }
});
