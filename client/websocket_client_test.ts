// The client over ws:// against a real server's HTTP listener: the same
// requests, pings, subscriptions, reconnection and resubscription as over
// TCP.

import assert from "node:assert/strict";
import { Server } from "../server/mod.ts";
import { nextEvent, waitFor } from "../testing/mod.ts";
import { connect } from "./connect.ts";
import { NotFoundError } from "./errors.ts";

const text = new TextEncoder();
const read = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A server with `/echo` and the topic `/news`, on HTTP at `port`. */
async function startServer(port = 0) {
  const server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.data);
  server.topic("/news");
  const { addr } = await server.listen({ http: { port } });
  const { port: bound } = addr as Deno.NetAddr;
  return { server, port: bound, url: `ws://127.0.0.1:${bound}/nanorpc` };
}

Deno.test("Client over ws:// requests, pings and subscribes as over TCP", async () => {
  const { server, url } = await startServer();
  await using _ = server;
  await using client = await connect(url);
  assert.equal(client.address.transport, "ws");
  const { data } = await client.request("/echo", text.encode("hi"));
  assert.equal(read(data), "hi");
  assert.ok(await client.ping() >= 0);
  await assert.rejects(client.request("/missing"), NotFoundError);
  // Large data crosses in many WebSocket messages both ways.
  const big = new Uint8Array(600_000).map((_, i) => i % 253);
  assert.deepEqual((await client.request("/echo", big)).data, big);
  const many = await Promise.all(
    Array.from(
      { length: 300 },
      (_, i) => client.request("/echo", text.encode(`${i}`)),
    ),
  );
  assert.deepEqual(many.map((r) => read(r.data)), many.map((_, i) => `${i}`));
  const sub = await client.subscribe("/news");
  server.publish("/news", text.encode("first"));
  server.publish("/news", text.encode("second"));
  const got: string[] = [];
  for await (const update of sub) {
    got.push(read(update));
    if (got.length === 2) break;
  }
  assert.deepEqual(got, ["first", "second"]);
  assert.equal([...server.sessions.values()][0].transport, "ws");
});

Deno.test("Client over ws:// reconnects after the server restarts and re-establishes its subscriptions", async () => {
  const first = await startServer();
  const client = await connect(first.url, {
    reconnect: { initial: 20, max: 100 },
  });
  try {
    const updates: string[] = [];
    await client.subscribe("/news", undefined, {
      onUpdate: (update) => updates.push(read(update)),
    });
    first.server.publish("/news", text.encode("before"));
    await waitFor(() => updates.length === 1, { message: "the first update" });
    const lost = nextEvent(client, "disconnect");
    await first.server.shutdown();
    await lost;
    assert.notEqual(client.state, "open");
    const second = await startServer(first.port);
    await using _ = second.server;
    await nextEvent(client, "reconnect");
    await waitFor(() => second.server.stats().subscriptions === 1, {
      message: "the subscription to be re-established",
    });
    second.server.publish("/news", text.encode("after"));
    await waitFor(() => updates.length === 2, { message: "the second update" });
    assert.deepEqual(updates, ["before", "after"]);
    const { data } = await client.request("/echo", text.encode("again"));
    assert.equal(read(data), "again");
  } finally {
    await client.close();
  }
});

Deno.test("Client over ws:// sends keepalive pings on an idle connection", async () => {
  const { server, url } = await startServer();
  await using _ = server;
  await using client = await connect(url, {
    keepalive: { interval: 20, timeout: 5000 },
  });
  const before = server.stats().framesIn;
  await waitFor(() => server.stats().framesIn >= before + 3, {
    message: "three keepalive pings",
  });
  assert.equal(client.state, "open");
});

Deno.test("connect rejects a ws:// address where no endpoint answers, with advice", async () => {
  const { server, port } = await startServer();
  await using _ = server;
  await assert.rejects(
    connect(`ws://127.0.0.1:${port}/wrong-path`, { connectTimeout: 5000 }),
    /Could not connect to ws:\/\/127\.0\.0\.1:\d+\/wrong-path: .*check the URL/,
  );
});

Deno.test("Client over ws:// with small maxMessageSize on both sides carries bursts of small frames packed into one message", async () => {
  const server = new Server({ logLevel: "error", maxMessageSize: 16384 });
  server.handle("/echo", (ctx) => ctx.data);
  server.topic("/news");
  await using _ = server;
  const { addr } = await server.listen({ http: { port: 0 } });
  const url = `ws://127.0.0.1:${(addr as Deno.NetAddr).port}/nanorpc`;
  await using client = await connect(url, { maxMessageSize: 4096 });
  // 40 KB of requests in one turn: one corked write, more than twice the
  // server's maxMessageSize in one WebSocket message.
  const answers = await Promise.all(
    Array.from(
      { length: 40 },
      () => client.request("/echo", new Uint8Array(1000)),
    ),
  );
  assert.equal(answers.length, 40);
  // 20 KB of updates in one turn, each under the client's 4 KiB.
  const sub = await client.subscribe("/news");
  for (let i = 0; i < 10; i++) server.publish("/news", new Uint8Array(2000));
  let got = 0;
  for await (const _update of sub) if (++got === 10) break;
  assert.equal(client.state, "open");
});

Deno.test("Client over ws:// offers the subprotocols in options.protocols, and a server speaking others refuses it", async () => {
  const server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.data);
  await using _ = server;
  const { addr } = await server.listen({
    http: { port: 0, protocols: ["nanorpc.v2"] },
  });
  const url = `ws://127.0.0.1:${(addr as Deno.NetAddr).port}/nanorpc`;
  {
    await using client = await connect(url, { protocols: ["nanorpc.v2"] });
    assert.equal(
      read((await client.request("/echo", text.encode("v2"))).data),
      "v2",
    );
  }
  // Offering none is served; offering only another is refused (400).
  {
    await using client = await connect(url);
    assert.equal(
      read((await client.request("/echo", text.encode("-"))).data),
      "-",
    );
  }
  await assert.rejects(
    connect(url, { protocols: ["nanorpc"], reconnect: false }),
  );
  assert.equal(server.stats().sessionsOpened, 2);
});

Deno.test("Client over ws:// sends a burst of large requests without the server closing the socket for unread bytes", async () => {
  const { server, url } = await startServer();
  await using _ = server;
  await using client = await connect(url);
  const lost: unknown[] = [];
  client.addEventListener("disconnect", (event) => lost.push(event.error));
  // 20 MiB of requests in one turn, ten times the bytes the server keeps
  // unread on a WebSocket: over TCP the server would just read slower.
  const data = new Uint8Array(512 * 1024).map((_, i) => i % 251);
  const answers = await Promise.all(
    Array.from({ length: 40 }, () => client.request("/echo", data)),
  );
  assert.equal(answers.length, 40);
  assert.ok(answers.every((answer) => answer.data.length === data.length));
  assert.deepEqual(answers[39].data, data);
  assert.deepEqual(lost, []);
  assert.equal(client.state, "open");
});

Deno.test("Client over ws:// writes the next large request after one its caller gave up on, once the server has read it", async () => {
  const server = new Server({
    logLevel: "error",
    handlerTimeout: 0,
    shutdownTimeout: 100,
  });
  // Concurrent: the session goes on reading while it hangs.
  server.handle("/hang", () => new Promise<Uint8Array>(() => {}), {
    concurrent: true,
  });
  server.handle("/echo", (ctx) => ctx.data);
  await using _ = server;
  const { addr } = await server.listen({ http: { port: 0 } });
  const url = `ws://127.0.0.1:${(addr as Deno.NetAddr).port}/nanorpc`;
  await using client = await connect(url);
  const data = new Uint8Array(600 * 1024).fill(7);
  // Never answered: written, then given up on after its time limit.
  await assert.rejects(client.request("/hang", data, { timeout: 200 }));
  // Together they would not fit the window (maxMessageSize, 1 MiB).
  const { data: echoed } = await client.request("/echo", data, {
    timeout: 5000,
  });
  assert.equal(echoed.length, data.length);
});

Deno.test("Client over ws:// does not hold a request behind a slow one's window, nor keepalive pings, while the server reads on", async () => {
  const server = new Server({ logLevel: "error", shutdownTimeout: 100 });
  // Concurrent: the session reads on while it sleeps.
  server.handle("/slow", async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return ctx.data;
  }, { concurrent: true });
  server.handle("/echo", (ctx) => ctx.data);
  await using _ = server;
  const { addr } = await server.listen({ http: { port: 0 } });
  const url = `ws://127.0.0.1:${(addr as Deno.NetAddr).port}/nanorpc`;
  await using client = await connect(url, {
    maxMessageSize: 4096,
    keepalive: { interval: 200, timeout: 300 },
    timeout: 0,
  });
  const lost: unknown[] = [];
  client.addEventListener("disconnect", (event) => lost.push(event.error));
  const data = new Uint8Array(2500).fill(3);
  let slowDone = false;
  const slow = client.request("/slow", data).finally(() => slowDone = true);
  // Together over the window (4096): the probe shows the server read the
  // first, so the second goes without waiting for the slow answer.
  const { data: echoed } = await client.request("/echo", data);
  assert.equal(echoed.length, data.length);
  assert.equal(slowDone, false, "the echo waited for the slow request");
  assert.equal((await slow).data.length, data.length);
  // Keepalive pings were answered all along: nothing was dropped.
  assert.deepEqual(lost, []);
  assert.equal(client.state, "open");
});

Deno.test("Client over ws:// keeps large requests back behind a stuck session when small ones written after them time out", async () => {
  const server = new Server({
    logLevel: "error",
    maxMessageSize: 64 * 1024,
    shutdownTimeout: 100,
  });
  // Not concurrent: while it runs, the session reads nothing more.
  server.handle("/slow", async () => {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return new Uint8Array();
  });
  server.handle("/echo", (ctx) => ctx.data);
  await using _ = server;
  const { addr } = await server.listen({ http: { port: 0 } });
  const url = `ws://127.0.0.1:${(addr as Deno.NetAddr).port}/nanorpc`;
  const client = await connect(url, {
    maxMessageSize: 64 * 1024,
    reconnect: false,
    timeout: 0,
  });
  const lost: string[] = [];
  client.addEventListener("disconnect", (e) => {
    if (e.error) lost.push(e.error.message);
  });
  const big = new Uint8Array(60_000);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 8; i++) {
    pending.push(client.request("/slow", big).catch(() => {}));
    // Written behind the big one, then given up on.
    await client.request("/echo", new Uint8Array(4), { timeout: 20 })
      .catch(() => {});
  }
  // Had a timeout counted the big requests before it as read, they would
  // have gone out and the server closed the socket for unread bytes.
  assert.deepEqual(lost, []);
  assert.equal(client.state, "open");
  await client.close();
  await Promise.all(pending);
});

Deno.test("Client over ws:// counts each message a write makes, so many small requests in separate turns do not overflow a stuck session", async () => {
  const server = new Server({
    logLevel: "error",
    maxMessageSize: 64 * 1024,
    shutdownTimeout: 100,
  });
  server.handle("/slow", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return new Uint8Array();
  });
  server.handle("/echo", (ctx) => ctx.data);
  await using _ = server;
  const { addr } = await server.listen({ http: { port: 0 } });
  const url = `ws://127.0.0.1:${(addr as Deno.NetAddr).port}/nanorpc`;
  await using client = await connect(url, {
    maxMessageSize: 64 * 1024,
    reconnect: false,
  });
  const lost: string[] = [];
  client.addEventListener("disconnect", (e) => {
    if (e.error) lost.push(e.error.message);
  });
  const slow = client.request("/slow");
  // Each in a turn of its own: one WebSocket message each, which the
  // server charges 256 bytes for besides the request's own.
  const small: Promise<unknown>[] = [];
  for (let i = 0; i < 1000; i++) {
    small.push(client.request("/echo", new Uint8Array(1)));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await slow;
  assert.equal(
    (await Promise.allSettled(small)).filter((r) => r.status === "rejected")
      .length,
    0,
  );
  assert.deepEqual(lost, []);
});
