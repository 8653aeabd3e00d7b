// Resumption against a hand-driven peer: what the client sends when a
// subscription ends while it is offering its resume token, and how long it
// offers a token that gets no answer.

import assert from "node:assert/strict";
import type { ClientOptions } from "./options.ts";
import type { ConnectionEvent } from "./events.ts";
import {
  FakeTime,
  nextEvent,
  RawServer,
  REQUEST,
  RESPONSE,
  resumingClient,
  SUBSCRIBE,
  waitFor,
} from "../testing/mod.ts";

/** A ResumeAnswer: `lost` updates lost, a one-byte next token. */
const resumeAnswer = (lost: number, token: number) =>
  new Uint8Array([0x08, lost, 0x12, 1, token]);

Deno.test("Client with resume ends on the server a subscription it ended while its resume was being answered", async () => {
  await using server = new RawServer();
  let { client, peer } = await resumingClient(server, new Uint8Array([7]));
  try {
    const subscribing = client.subscribe("/news");
    const subscribe = (await peer.next())!;
    await peer.send({ requestId: subscribe.requestId, responseType: RESPONSE });
    const sub = await subscribing;

    const accepted = server.accept();
    peer.close();
    peer = await accepted;
    const resume = (await peer.next())!;
    assert.equal(resume.pathOneof.value, "/_nanorpc/resume");
    // Ended while the resume is unanswered: nothing to send it on yet.
    await sub.unsubscribe();
    await peer.send({
      requestId: resume.requestId,
      responseType: RESPONSE,
      data: resumeAnswer(0, 8),
    });
    // The resumed session still holds the subscription: it is ended there.
    const ending = (await peer.next())!;
    assert.equal(ending.requestType, REQUEST);
    assert.equal(ending.requestId, sub.id);
    assert.equal(ending.pathOneof.value, "/news");
    assert.equal(ending.data.length, 0);
  } finally {
    await client.close().catch(() => {});
  }
});

Deno.test("Client with resume offers its token again after a connection lost while resuming, and reports no disconnect for that connection", async () => {
  await using server = new RawServer();
  let { client, peer } = await resumingClient(server, new Uint8Array([7]));
  // From the first connection's end on (its connect fired already).
  const events: string[] = [];
  for (const type of ["connect", "disconnect", "reconnect"]) {
    client.addEventListener(type, () => events.push(type));
  }
  try {
    await client.opened;
    let accepted = server.accept();
    peer.close();
    peer = await accepted;
    const first = (await peer.next())!;
    assert.equal(first.pathOneof.value, "/_nanorpc/resume");
    assert.deepEqual(first.data, new Uint8Array([7]));
    // Lost before the answer: the token was not used up.
    accepted = server.accept();
    peer.close();
    peer = await accepted;
    const again = (await peer.next())!;
    assert.equal(again.pathOneof.value, "/_nanorpc/resume");
    assert.deepEqual(again.data, new Uint8Array([7]));
    await peer.send({
      requestId: again.requestId,
      responseType: RESPONSE,
      data: resumeAnswer(0, 8),
    });
    await waitFor(() => events.length === 3, { message: "the reconnect" });
    assert.deepEqual(events, ["disconnect", "connect", "reconnect"]);
  } finally {
    await client.close().catch(() => {});
  }
});

Deno.test("Client with resume keeps its token over quick drops before the resume's answer, and gives it up for a new session once they have gone on 30 s", async () => {
  await using server = new RawServer();
  // The resume's answer may take a minute here: only the drops decide.
  let { client, peer } = await resumingClient(server, new Uint8Array([7]), {
    timeout: 60_000,
  });
  try {
    const subscribing = client.subscribe("/news");
    const subscribe = (await peer.next())!;
    await peer.send({ requestId: subscribe.requestId, responseType: RESPONSE });
    const sub = await subscribing;
    await client.opened;
    using time = new FakeTime();
    /** Drops the connection; the next one comes `after` ms later. */
    const drop = async (after: number) => {
      const accepted = server.accept();
      peer.close();
      await waitFor(() => client.state === "waiting");
      await time.tickAsync(after);
      peer = await accepted;
    };
    // A proxy hanging up while its backend restarts: quick drops, each
    // before the answer. The server still holds the session: offered on.
    for (let i = 0; i < 6; i++) {
      await drop(10); // the backoff's most
      const resume = (await peer.next())!;
      assert.equal(resume.pathOneof.value, "/_nanorpc/resume", `drop ${i}`);
      assert.deepEqual(resume.data, new Uint8Array([7]));
    }
    // 30 s of it (the last resume still unanswered): the server's
    // default grace has passed. Given up at the next drop.
    await time.tickAsync(30_000);
    const reconnected = nextEvent<ConnectionEvent>(client, "reconnect");
    await drop(10);
    // A new session, as after an expired token: asked for, subscribed anew.
    assert.equal((await peer.next())!.pathOneof.value, "/_nanorpc/session");
    const event = await reconnected;
    assert.equal(event.resumed, false);
    const again = (await peer.next())!;
    assert.equal(again.requestType, SUBSCRIBE);
    assert.equal(again.requestId, sub.id);
  } finally {
    await client.close().catch(() => {});
  }
});

for (
  const [name, limits, bound] of [
    ["timeout 0", { timeout: 0 }, 10_000],
    [
      "timeout Infinity and connectTimeout 250",
      { timeout: Infinity, connectTimeout: 250 },
      250,
    ],
    [
      "timeout 0 and connectTimeout 0",
      { timeout: 0, connectTimeout: 0 },
      10_000,
    ],
  ] as [string, ClientOptions, number][]
) {
  Deno.test(`Client with resume and ${name} waits ${bound} ms for the resume's answer, then starts a new session`, async () => {
    await using server = new RawServer();
    let { client, peer } = await resumingClient(
      server,
      new Uint8Array([7]),
      limits,
    );
    try {
      await client.opened;
      using time = new FakeTime();
      const accepted = server.accept();
      peer.close();
      await waitFor(() => client.state === "waiting");
      await time.tickAsync(5);
      peer = await accepted;
      const resume = (await peer.next())!;
      assert.equal(resume.pathOneof.value, "/_nanorpc/resume");
      // The server never answers: the client is connecting meanwhile.
      await time.tickAsync(bound - 1);
      assert.equal(client.state, "connecting");
      const reconnected = nextEvent<ConnectionEvent>(client, "reconnect");
      await time.tickAsync(1);
      assert.equal((await reconnected).resumed, false);
      assert.equal(client.state, "open");
      assert.equal((await peer.next())!.pathOneof.value, "/_nanorpc/session");
    } finally {
      await client.close().catch(() => {});
    }
  });
}
