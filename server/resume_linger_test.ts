// A session that lingers after its connection failed: what it reports and
// what it holds.

import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import {
  decodeFrames,
  MemoryStream,
  REQUEST,
  requestFrame,
  SUBSCRIBE,
  waitFor,
} from "../testing/mod.ts";
import { ResponseType, Status } from "../wasm/wire.ts";
import { LingerBuffer } from "./_linger_buffer.ts";
import { Server } from "./server.ts";
import type { Session } from "./session.ts";

Deno.test("Server session lingering after a failed write reports no bytes buffered", async () => {
  const server = new Server({ logLevel: "error" });
  server.topic("/t");
  const stream = new MemoryStream();
  const serving = server.serve(stream);
  stream.send(requestFrame({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  }));
  stream.send(requestFrame({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/session" },
  }));
  await waitFor(() => stream.writes.length >= 1, { message: "the answers" });
  const [session] = server.sessions.values();
  stream.hold(); // The peer stops reading...
  server.publish("/t", new Uint8Array(100));
  server.publish("/t", new Uint8Array(100));
  await waitFor(() => stream.pendingWrites === 1, { message: "a write" });
  assert.ok(session.bufferedAmount > 0);
  stream.fail(new Error("connection reset")); // ...and the write fails.
  await waitFor(() => server.stats().lingeringSessions === 1, {
    message: "the session to linger",
  });
  assert.equal(session.bufferedAmount, 0);
  await server.shutdown();
  await serving;
});

Deno.test("Server resume leaves the session the connection first opened idle, not busy", async () => {
  const server = new Server({ logLevel: "error" });
  const opened: Session[] = [];
  server.addEventListener("sessionopen", (e) => {
    opened.push(e.session);
  });
  const first = new MemoryStream();
  const serving = [server.serve(first)];
  first.send(requestFrame({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/session" },
  }));
  await waitFor(() => first.writes.length === 1, { message: "the token" });
  const token = decodeFrames(NanoRPCResponseSchema, first.written)[0].data;
  first.end();
  await waitFor(() => server.stats().lingeringSessions === 1, {
    message: "the session to linger",
  });
  const second = new MemoryStream();
  serving.push(server.serve(second));
  second.send(requestFrame({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/resume" },
    data: token,
  }));
  await waitFor(() => server.stats().resumes === 1, { message: "the resume" });
  const [resumed, handedOver] = opened;
  assert.equal((handedOver as unknown as { busy: boolean }).busy, false);
  assert.equal((resumed as unknown as { busy: boolean }).busy, false);
  await server.shutdown();
  await Promise.all(serving);
});

Deno.test("LingerBuffer holds only an update's own bytes, not the larger message it is a view into", () => {
  const buffer = new LingerBuffer(1024, 1 << 20, () => {});
  // A forwarded batch of updates: each one is a view into the message.
  const batch = new Uint8Array(256 * 1024);
  batch.set([1, 2, 3], 1000);
  const update = batch.subarray(1000, 1003);
  buffer.push(7, ResponseType.UPDATE, Status.OK, undefined, update);
  const whole = new Uint8Array([4, 5]);
  buffer.push(7, ResponseType.UPDATE, Status.OK, undefined, whole);
  const held: Uint8Array[] = [];
  buffer.replay((_, data) => held.push(data));
  assert.deepEqual(held.map((d) => [...d]), [[1, 2, 3], [4, 5]]);
  assert.equal(held[0].buffer.byteLength, 3);
  assert.equal(held[1], whole); // Not a view: kept as it is, no copy.
});

Deno.test("Server gives a uid a lingering session holds to the session that binds it, and the lingering one closes without it", async () => {
  const server = new Server({ logLevel: "error", resumeGrace: 200 });
  server.handle("/bind", (ctx) => {
    ctx.session.bind(new TextDecoder().decode(ctx.data));
  });
  const closed: (string | undefined)[] = [];
  server.addEventListener("sessionclose", (e) => closed.push(e.session.uid));
  const request = (id: number, path: string, data = "") =>
    requestFrame({
      requestId: id,
      requestType: REQUEST,
      pathOneof: { case: "path", value: path },
      data: new TextEncoder().encode(data),
    });
  const first = new MemoryStream();
  const serving = server.serve(first);
  first.send(request(1, "/_nanorpc/session"));
  first.send(request(2, "/bind", "alice"));
  await waitFor(() => server.sessionByUid("alice") !== undefined);
  const [lingering] = server.sessions.values();
  first.end(); // dropped without goodbye: it lingers for a resume
  await serving;
  await waitFor(() => server.stats().lingeringSessions === 1);
  assert.equal(server.sessionByUid("alice"), lingering);

  const second = new MemoryStream();
  const servingSecond = server.serve(second);
  second.send(request(1, "/bind", "alice"));
  await waitFor(() => server.sessionByUid("alice") !== lingering, {
    message: "the uid to move",
  });
  assert.equal(lingering.uid, undefined);
  await waitFor(() => closed.length === 1, { message: "the grace to end" });
  assert.deepEqual(closed, [undefined]);
  second.end();
  await servingSecond;
  await server.shutdown();
  assert.deepEqual(closed, [undefined, "alice"]);
});
