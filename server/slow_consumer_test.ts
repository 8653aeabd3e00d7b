// Slow consumers: a subscriber that stops reading costs
// the server at most its outgoing buffer; updates past it are dropped and
// counted, every other subscriber gets every update, every publisher
// request is answered. A peer that does not read its *responses* is closed
// instead, since responses are never dropped. The 100 MB run against
// `deno task server`, with its RSS, is `deno task stress --slow-consumer`.

import assert from "node:assert/strict";
import {
  concat,
  PING,
  PONG,
  type RawClient,
  REQUEST,
  requestFrame,
  startServer,
  SUBSCRIBE,
  UPDATE,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { Server } from "./server.ts";
import type { Session } from "./session.ts";

const BUFFER = 512 * 1024;
const UPDATE_SIZE = 16 * 1024;
const PUBLISHED = 24 * 1024 * 1024;
const WINDOW = 8;

function pubSub(server: Server): void {
  server.topic("/t");
  server.handle("/pub", (ctx) => server.publish("/t", ctx.data));
  server.handle("/whoami", (ctx) => String(ctx.session.id));
}

function startPubSub(setup?: (server: Server) => void) {
  return startServer((server) => {
    pubSub(server);
    setup?.(server);
  }, { outgoingBufferSize: BUFFER, logLevel: "error" });
}

async function sessionOf(server: Server, peer: RawClient): Promise<Session> {
  const res = await peer.call({
    requestId: 0,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/whoami" },
  });
  return server.sessions.get(Number(new TextDecoder().decode(res.data)))!;
}

async function subscribe(peer: RawClient, id: number): Promise<void> {
  const ack = await peer.call({
    requestId: id,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  });
  assert.equal(ack.responseStatus, Status.OK);
}

function update(seq: number): Uint8Array {
  const data = new Uint8Array(UPDATE_SIZE).fill(seq & 0xff);
  new DataView(data.buffer).setUint32(0, seq);
  return data;
}

/** Reads `count` updates and checks they are 0..count-1, whole, in order. */
async function readAll(peer: RawClient, id: number, count: number) {
  for (let seq = 0; seq < count; seq++) {
    const res = await peer.read(10_000);
    assert.equal(res.responseType, UPDATE);
    assert.equal(res.requestId, id);
    assert.equal(res.data.length, UPDATE_SIZE);
    const got = new DataView(res.data.buffer, res.data.byteOffset).getUint32(0);
    assert.equal(got, seq, "an update was lost or reordered");
    assert.equal(res.data[UPDATE_SIZE - 1], seq & 0xff);
  }
}

Deno.test("Server bounds a subscriber that never reads, drops and counts its updates, and serves everyone else", async () => {
  await using t = await startPubSub();
  const { server } = t;
  const slow = await t.connectRaw();
  const slowSession = await sessionOf(server, slow);
  await subscribe(slow, 1);
  const readers = [await t.connectRaw(), await t.connectRaw()];
  for (const [i, peer] of readers.entries()) await subscribe(peer, 10 + i);
  const publisher = await t.connectRaw();

  const count = PUBLISHED / UPDATE_SIZE;
  const reading = readers.map((peer, i) => readAll(peer, 10 + i, count));
  let maxBuffered = 0;
  let answered = 0;
  for (let seq = 0; seq < count; seq += WINDOW) {
    const frames = [];
    for (let k = seq; k < Math.min(seq + WINDOW, count); k++) {
      frames.push(requestFrame({
        requestId: k,
        requestType: REQUEST,
        pathOneof: { case: "path", value: "/pub" },
        data: update(k),
      }));
    }
    await publisher.write(concat(...frames));
    for (let k = 0; k < frames.length; k++) {
      const res = await publisher.read();
      assert.equal(res.requestId, seq + k);
      assert.equal(res.responseStatus, Status.OK);
      answered++;
      maxBuffered = Math.max(maxBuffered, slowSession.bufferedAmount);
    }
  }
  await Promise.all(reading);

  assert.equal(answered, count);
  assert.ok(maxBuffered <= BUFFER, `slow session buffered ${maxBuffered}`);
  // Updates may fill half the buffer; the other half is kept for responses.
  assert.ok(maxBuffered > BUFFER / 4, "the slow session never filled up");
  const stats = server.stats();
  assert.ok(stats.droppedUpdates > 0, "no update was dropped");
  assert.equal(stats.droppedUpdates, slowSession.droppedUpdates);
  assert.equal(stats.overflowCloses, 0);
  assert.equal(
    slowSession.closed,
    false,
    "dropping updates closed the slow session",
  );
  assert.equal(stats.sessions, 4);

  // Once it reads again, it gets the updates that were not dropped, in
  // order, and its requests are answered.
  const delivered = count - slowSession.droppedUpdates;
  let last = -1;
  for (let i = 0; i < delivered; i++) {
    const res = await slow.read(10_000);
    assert.equal(res.requestId, 1);
    const seq = new DataView(res.data.buffer, res.data.byteOffset).getUint32(0);
    assert.ok(seq > last, "updates out of order");
    last = seq;
  }
  const pong = await slow.call({ requestId: 2, requestType: PING });
  assert.equal(pong.responseType, PONG);
});

Deno.test("Server closes a peer that never reads its responses instead of buffering them without bound", async () => {
  const reasons: string[] = [];
  await using t = await startPubSub((server) => {
    server.handle("/big", () => new Uint8Array(64 * 1024));
    server.addEventListener("sessionclose", (e) => {
      reasons.push(e.reason);
    });
  });
  const { server } = t;
  const greedy = await t.connectRaw();
  const other = await t.connectRaw();

  // 64 × 64 KiB of responses asked for in one write, none read yet.
  const ask = requestFrame({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/big" },
  });
  await greedy.write(concat(...Array.from({ length: 64 }, () => ask)));
  let whole = 0;
  try {
    for (;;) {
      const res = await greedy.read();
      assert.equal(res.data.length, 64 * 1024);
      whole++;
    }
  } catch (err) {
    assert.match(String(err), /The server closed the connection/);
  }
  assert.ok(whole < 64, "every response was buffered");
  assert.equal(server.stats().overflowCloses, 1);
  assert.match(reasons[0], /outgoing buffer of 524288 bytes is full/);

  const pong = await other.call({ requestId: 5, requestType: PING });
  assert.equal(pong.responseType, PONG);
});
