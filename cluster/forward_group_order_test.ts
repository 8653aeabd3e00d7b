// A remote handler that adds its caller to a group (or removes it) and then
// broadcasts or multicasts to the group reaches the caller as on a single
// node: after the change of membership, in order with the answer, once.

import assert from "node:assert/strict";
import {
  PING,
  PONG,
  REQUEST,
  RESPONSE,
  SUBSCRIBE,
  UPDATE,
} from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import type { RawClient } from "../testing/raw_client.ts";
import { waitFor } from "../testing/wait.ts";
import type { Server } from "../server/mod.ts";
import { meshed, startNode, type TestNode } from "./_testing.ts";
import { Status } from "../wasm/wire.ts";
import { MAX_CARRIED } from "../server/_remote_session.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * The room node's handlers. Each waits, before it answers, until the home
 * node's broker has delivered what it sent through the broker: the order
 * in which the old code lost the broadcast (it raced the answer).
 */
function roomSetup(home: () => TestNode | undefined) {
  const settled = async (before: number | undefined, messages = 1) => {
    const node = home();
    if (node === undefined || before === undefined) return;
    await waitFor(() => node.broker.stats.delivered >= before + messages, {
      timeout: 5000,
      message: "the home node's broker to deliver the broadcast",
    });
  };
  return (server: Server) => {
    server.topic("/room/events");
    const room = server.group("room");
    server.handle("/room/join", async (ctx) => {
      const before = home()?.broker.stats.delivered;
      room.add(ctx.session);
      room.broadcast("/room/events", text(`joined:${str(ctx.data)}`));
      await settled(before);
    });
    server.handle("/room/leave", async (ctx) => {
      const before = home()?.broker.stats.delivered;
      room.remove(ctx.session);
      room.broadcast("/room/events", text(`left:${str(ctx.data)}`));
      await settled(before);
    });
    server.handle("/room/chatty", async (ctx) => {
      const before = home()?.broker.stats.delivered;
      room.add(ctx.session);
      for (let i = 0; i < MAX_CARRIED + 6; i++) {
        room.broadcast("/room/events", text(`n:${i}`));
      }
      await settled(before, 6);
    });
    server.handle("/room/enter", async (ctx) => {
      const before = home()?.broker.stats.delivered;
      const name = str(ctx.data);
      ctx.session.bind(name);
      room.add(ctx.session);
      room.multicast("/room/events", text(`welcome:${name}`), [
        name,
        ctx.session,
      ]);
      await settled(before);
    });
  };
}

/** Two nodes: `room` serves the room's handlers; `home` does not. */
async function twoNodes(url: string) {
  const nodes: { home?: TestNode } = {};
  const room = await startNode({
    servers: url,
    setup: roomSetup(() => nodes.home),
  });
  const home = nodes.home = await startNode({
    servers: url,
    setup: (server) => {
      server.topic("/room/events");
      // Listening to the group's channel from the start, as a node whose
      // sessions are in the room already would.
      server.group("room");
    },
  });
  await meshed([room, home]);
  return { room, home };
}

async function subscribed(node: TestNode): Promise<RawClient> {
  const client = await node.connect();
  const ack = await client.call({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/events" },
  });
  assert.equal(ack.responseStatus, Status.OK);
  return client;
}

function send(client: RawClient, requestId: number, path: string, data = "") {
  return client.send({
    requestId,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data: text(data),
  });
}

/** The frames up to the answer to `requestId`, as short strings. */
async function upTo(client: RawClient, requestId: number): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const f = await client.read();
    if (f.responseType === UPDATE) seen.push(`update ${str(f.data)}`);
    else if (f.responseType === RESPONSE && f.requestId === requestId) {
      seen.push(`answer ${f.responseStatus}`);
      return seen;
    } else seen.push(`frame ${f.responseType} ${f.requestId}`);
  }
}

/** The updates that come before a PONG: what is left to read. */
async function rest(client: RawClient): Promise<string[]> {
  await client.send({ requestId: 99, requestType: PING });
  const seen: string[] = [];
  for (;;) {
    const f = await client.read();
    if (f.responseType === PONG) return seen;
    seen.push(`${f.responseType} ${str(f.data)}`);
  }
}

/**
 * A subscribed client of `node` that joined the room as `name`: the
 * broadcast of its own join came before the answer.
 */
async function joined(node: TestNode, name: string): Promise<RawClient> {
  const client = await subscribed(node);
  await send(client, 2, "/room/join", name);
  assert.deepEqual(await upTo(client, 2), [
    `update joined:${name}`,
    "answer 1",
  ]);
  return client;
}

needsNats.test("NatsForwarder delivers a remote handler's broadcast after the join it made, to the caller and once to every other member", async () => {
  await using nats = await startNatsServer();
  const { room, home } = await twoNodes(nats.url);
  await using _room = room;
  await using _home = home;
  const carol = await joined(room, "carol"); // a member on the serving node
  const alice = await joined(home, "alice");
  const bob = await joined(home, "bob");
  assert.equal(str((await alice.read()).data), "joined:bob");
  assert.equal(str((await carol.read()).data), "joined:alice");
  assert.equal(str((await carol.read()).data), "joined:bob");
  for (const client of [alice, bob, carol]) {
    assert.deepEqual(await rest(client), [], "nothing came twice");
  }
  assert.equal(home.server.group("room").count, 2);
});

needsNats.test("NatsForwarder keeps a remote handler's broadcast from the caller it removed from the group just before", async () => {
  await using nats = await startNatsServer();
  const { room, home } = await twoNodes(nats.url);
  await using _room = room;
  await using _home = home;
  const alice = await joined(home, "alice");
  const bob = await joined(home, "bob");
  assert.equal(str((await alice.read()).data), "joined:bob");
  await send(bob, 3, "/room/leave", "bob");
  assert.deepEqual(await upTo(bob, 3), ["answer 1"], "bob had left");
  assert.equal(str((await alice.read()).data), "left:bob");
  for (const client of [alice, bob]) {
    assert.deepEqual(await rest(client), [], "nothing came twice");
  }
  assert.equal(home.server.group("room").count, 1);
});

needsNats.test("NatsForwarder delivers a remote handler's multicast, by uid and session, once to the caller it just bound and added", async () => {
  await using nats = await startNatsServer();
  const { room, home } = await twoNodes(nats.url);
  await using _room = room;
  await using _home = home;
  const alice = await joined(home, "alice");
  const bob = await subscribed(home);
  await send(bob, 2, "/room/enter", "bob");
  assert.deepEqual(await upTo(bob, 2), ["update welcome:bob", "answer 1"]);
  assert.equal(home.server.sessionByUid("bob")?.uid, "bob");
  for (const client of [alice, bob]) {
    assert.deepEqual(await rest(client), [], "only bob, only once");
  }
});

needsNats.test("NatsForwarder carries at most MAX_CARRIED broadcasts in one answer and sends the rest through the broker, counting the call", async () => {
  await using nats = await startNatsServer();
  const { room, home } = await twoNodes(nats.url);
  await using _room = room;
  await using _home = home;
  const alice = await subscribed(home);
  await send(alice, 2, "/room/chatty", "alice");
  const seen = await upTo(alice, 2);
  // The rest reached the home node before the join, as the old code's
  // broadcasts did: only what the answer carried arrives.
  assert.deepEqual(seen, [
    ...Array.from({ length: MAX_CARRIED }, (_, i) => `update n:${i}`),
    "answer 1",
  ]);
  assert.equal(room.server.stats().carryOverflows, 1);
  assert.deepEqual(await rest(alice), []);
});
