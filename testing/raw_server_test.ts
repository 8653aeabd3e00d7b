import assert from "node:assert/strict";
import { clientWithRawServer } from "./client.ts";
import { REQUEST, RESPONSE, SUBSCRIBE, varint } from "./frames.ts";
import { RawServer } from "./raw_server.ts";

Deno.test("RawSession hands out requests in order and answers them", async () => {
  await using t = await clientWithRawServer();
  const a = t.client.request("/a", new Uint8Array([1]));
  const b = t.client.request("/b");
  const first = await t.session.answer(new Uint8Array([9]));
  assert.deepEqual(first.pathOneof, { case: "path", value: "/a" });
  assert.equal(first.requestType, REQUEST);
  assert.deepEqual(first.data, new Uint8Array([1]));
  const second = (await t.session.next())!;
  assert.deepEqual(second.pathOneof, { case: "path", value: "/b" });
  await t.session.send({ requestId: second.requestId, responseType: RESPONSE });
  assert.deepEqual((await a).data, new Uint8Array([9]));
  await b;
  // Both went out in one write, so they came in one read.
  assert.equal(t.session.reads, 1);
});

Deno.test("RawSession sync waits until the client handled what was sent, leaving other requests queued", async () => {
  await using t = await clientWithRawServer();
  const subscribing = t.client.subscribe("/t");
  const sub = (await t.session.next())!;
  assert.equal(sub.requestType, SUBSCRIBE);
  let settled = false;
  subscribing.then(() => settled = true);
  const later = t.client.request("/later");
  await t.session.send({ requestId: sub.requestId, responseType: RESPONSE });
  await t.session.sync(t.client);
  assert.equal(settled, true);
  // The request made before the sync is still there for next().
  const request = (await t.session.next())!;
  assert.deepEqual(request.pathOneof, { case: "path", value: "/later" });
  await t.session.send({
    requestId: request.requestId,
    responseType: RESPONSE,
  });
  await later;
});

Deno.test("RawSession next is null once the client hung up, and fails in time when nothing comes", async () => {
  await using t = await clientWithRawServer({ reconnect: false });
  await assert.rejects(t.session.next(20), /No request within 20 ms/);
  await t.client.close();
  assert.equal(await t.session.next(), null);
});

Deno.test("RawSession send writes raw bytes as given", async () => {
  await using t = await clientWithRawServer({ reconnect: false });
  const call = t.client.request("/x");
  await t.session.next();
  // A length prefix claiming far more than the client accepts.
  await t.session.send(varint(1 << 30));
  await assert.rejects(call, /maximum message size/);
});

Deno.test("RawServer accept fails in time when no client comes", async () => {
  await using server = new RawServer();
  assert.match(server.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  await assert.rejects(server.accept(20), /No connection within 20 ms/);
});
