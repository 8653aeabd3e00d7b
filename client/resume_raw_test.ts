// Resumption against a hand-driven peer: what the client sends when a
// subscription ends while it is offering its resume token.

import assert from "node:assert/strict";
import {
  RawServer,
  REQUEST,
  RESPONSE,
  resumingClient,
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
