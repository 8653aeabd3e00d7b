// Resumption against a hand-driven peer that answers the session paths with
// what no resuming server sends: empty answers (a server that answers every
// path OK), tokenless or garbled resume answers, malformed frames.

import assert from "node:assert/strict";
import type { ConnectionEvent } from "./events.ts";
import {
  concat,
  nextEvent,
  RawServer,
  type RawSession,
  RESPONSE,
  resumingClient,
  SUBSCRIBE,
  varint,
} from "../testing/mod.ts";

/** A resuming client of `server`, subscribed to /news on its first peer. */
async function subscribedClient(server: RawServer, token: Uint8Array) {
  const { client, peer } = await resumingClient(server, token);
  const subscribing = client.subscribe("/news");
  const subscribe = (await peer.next())!;
  await peer.send({ requestId: subscribe.requestId, responseType: RESPONSE });
  return { client, peer, sub: await subscribing };
}

/** Drops `peer` and returns the client's next connection. */
async function reconnected(server: RawServer, peer: RawSession) {
  const accepted = server.accept();
  peer.close();
  return await accepted;
}

/** The next request that is not a `/_nanorpc/` one. */
async function nextOwn(peer: RawSession) {
  for (;;) {
    const request = (await peer.next())!;
    if (!String(request.pathOneof.value).startsWith("/_nanorpc/")) {
      return request;
    }
  }
}

Deno.test("Client with resume takes an empty answer to /_nanorpc/session as no token, and subscribes again after a reconnect", async () => {
  await using server = new RawServer();
  // A server that answers every path OK with no data.
  const { client, peer, sub } = await subscribedClient(
    server,
    new Uint8Array(),
  );
  try {
    const next = await reconnected(server, peer);
    const first = (await next.next())!;
    // No token to offer: no resume, which such a server would "accept".
    assert.notEqual(first.pathOneof.value, "/_nanorpc/resume");
    const again = await nextOwn(next);
    assert.equal(again.requestType, SUBSCRIBE);
    assert.equal(again.requestId, sub.id);
  } finally {
    await client.close().catch(() => {});
  }
});

for (
  const [name, answer] of [
    ["an empty resume answer", new Uint8Array()],
    // lost = 1, no token: a real resume always hands out the next one.
    ["a resume answer without a token", new Uint8Array([0x08, 1])],
    // A `lost` varint of 150 bytes, which used to read as NaN.
    [
      "an overlong varint",
      new Uint8Array([0x08, ...Array(150).fill(0x80), 1, 0x12, 1, 8]),
    ],
    // A fixed32 field that runs past the end of the answer.
    ["a truncated fixed32 field", new Uint8Array([0x12, 1, 8, 0x1d, 1])],
  ] as const
) {
  Deno.test(`Client with resume subscribes again after ${name} to /_nanorpc/resume`, async () => {
    await using server = new RawServer();
    const { client, peer, sub } = await subscribedClient(
      server,
      new Uint8Array([7]),
    );
    try {
      const reconnect = nextEvent<ConnectionEvent>(client, "reconnect");
      const next = await reconnected(server, peer);
      const resume = (await next.next())!;
      assert.equal(resume.pathOneof.value, "/_nanorpc/resume");
      await next.send({
        requestId: resume.requestId,
        responseType: RESPONSE,
        data: answer,
      });
      const event = await reconnect;
      assert.equal(event.resumed, false);
      assert.equal(event.lostUpdates, 0);
      const again = await nextOwn(next);
      assert.equal(again.requestType, SUBSCRIBE);
      assert.equal(again.requestId, sub.id);
    } finally {
      await client.close().catch(() => {});
    }
  });
}

Deno.test("Client with resume drops a token answered with a malformed frame and opens as a new session", async () => {
  await using server = new RawServer();
  let { client, peer, sub } = await subscribedClient(
    server,
    new Uint8Array([7]),
  );
  try {
    const reconnect = nextEvent<ConnectionEvent>(client, "reconnect");
    peer = await reconnected(server, peer);
    const resume = (await peer.next())!;
    assert.equal(resume.pathOneof.value, "/_nanorpc/resume");
    // A frame whose field 1 has wire type 7.
    await peer.send(concat(varint(2), new Uint8Array([0x0f, 0x01])));
    // The next connection does not offer the token again (which would get
    // the same garbage on every connection): it is a new session.
    peer = await server.accept();
    const first = (await peer.next())!;
    assert.notEqual(first.pathOneof.value, "/_nanorpc/resume");
    const again = await nextOwn(peer);
    assert.equal(again.requestType, SUBSCRIBE);
    assert.equal(again.requestId, sub.id);
    assert.equal((await reconnect).resumed, false);
    assert.equal(client.state, "open");
  } finally {
    await client.close().catch(() => {});
  }
});
