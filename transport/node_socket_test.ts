// nodeSocketStream over real node:net sockets: a server serving its
// sessions through it to our client and to raw peers, and the stream's own
// bounds (the read queue pauses the socket, a write waits for a peer that
// does not read).

import assert from "node:assert/strict";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { connect } from "../client/connect.ts";
import { Server } from "../server/server.ts";
import { PING, PONG } from "../testing/frames.ts";
import { RawClient } from "../testing/raw_client.ts";
import { waitFor } from "../testing/wait.ts";
import type { ByteStream } from "./byte_stream.ts";
import { nodeSocketStream } from "./node_socket.ts";

/** A node:net listener on an ephemeral port; each socket goes to `take`. */
async function listen(take: (socket: Socket) => void) {
  const net: NetServer = createServer(take);
  await new Promise<void>((resolve) => net.listen(0, "127.0.0.1", resolve));
  return {
    port: (net.address() as { port: number }).port,
    async [Symbol.asyncDispose]() {
      await new Promise((resolve) => net.close(resolve));
    },
  };
}

/** A server whose sessions come from a node:net listener. */
async function serveOverNode(server: Server) {
  const sockets: Socket[] = [];
  const listener = await listen((socket) => {
    sockets.push(socket);
    server.serve(nodeSocketStream(socket)).catch(() => {});
  });
  return {
    port: listener.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      for (const socket of sockets) socket.destroy();
      await listener[Symbol.asyncDispose]();
    },
  };
}

/** The stream of the next socket `listen` accepts, and a client of it. */
async function pair(maxQueued?: number) {
  const accepted = Promise.withResolvers<[Socket, ByteStream]>();
  const listener = await listen((socket) =>
    accepted.resolve([socket, nodeSocketStream(socket, { maxQueued })])
  );
  const peer = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.port,
  });
  const [socket, stream] = await accepted.promise;
  return {
    socket,
    stream,
    peer,
    async [Symbol.asyncDispose]() {
      stream.close();
      try {
        peer.close();
      } catch {
        // Closed by the test.
      }
      await listener[Symbol.asyncDispose]();
    },
  };
}

Deno.test("nodeSocketStream carries a client's requests and a subscription's updates to a server served over node:net", async () => {
  const server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.data);
  const topic = server.topic("/news");
  await using t = await serveOverNode(server);
  await using client = await connect(`tcp://127.0.0.1:${t.port}`);
  const { data } = await client.request("/echo", new Uint8Array([1, 2, 3]));
  assert.deepEqual(data, new Uint8Array([1, 2, 3]));
  const updates = await client.subscribe("/news");
  await waitFor(() => topic.size === 1, { message: "the subscription" });
  server.publish("/news", new TextEncoder().encode("hello"));
  const it = updates[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(new TextDecoder().decode(first.value), "hello");
  const [session] = server.sessions.values();
  assert.equal(session.transport, "tcp");
  assert.equal(session.remoteAddr.hostname, "127.0.0.1");
});

Deno.test("nodeSocketStream closes only the connection that sent a malformed frame", async () => {
  const server = new Server({ logLevel: "error" });
  await using t = await serveOverNode(server);
  const addr = {
    transport: "tcp" as const,
    hostname: "127.0.0.1",
    port: t.port,
  };
  using good = await RawClient.connect(addr);
  using bad = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  await bad.write(new Uint8Array(11).fill(0x80)); // a length prefix of 11 bytes
  assert.equal(await bad.read(new Uint8Array(16)), null);
  const pong = await good.call({ requestId: 1, requestType: PING });
  assert.equal(pong.responseType, PONG);
  assert.equal(server.stats().malformedCloses, 1);
});

Deno.test("nodeSocketStream pauses its socket while more than maxQueued bytes wait unread, and resumes as they are read", async () => {
  await using p = await pair(1024);
  const sent = new Uint8Array(64 * 1024).map((_, i) => i * 7);
  await p.peer.write(sent);
  await waitFor(() => p.socket.isPaused(), {
    message: "the socket to pause over 1 KiB unread",
  });
  const got = new Uint8Array(sent.length);
  let at = 0;
  while (at < got.length) {
    const n = await p.stream.read(got.subarray(at, at + 4096));
    assert.ok(n !== null && n > 0);
    at += n;
  }
  assert.deepEqual(got, sent);
  assert.equal(p.socket.isPaused(), false);
});

Deno.test("nodeSocketStream write settles only once a peer that stopped reading takes the bytes", async () => {
  await using p = await pair();
  let settled = false;
  const big = new Uint8Array(16 * 1024 * 1024);
  const writing = p.stream.write(big).then(() => settled = true);
  await waitFor(() => p.socket.writableLength > 0, {
    message: "bytes the kernel would not take",
  });
  assert.equal(settled, false);
  const sink = new Uint8Array(1 << 16);
  let got = 0;
  while (got < big.length) got += (await p.peer.read(sink)) ?? 0;
  await writing;
  assert.equal(settled, true);
});

Deno.test("nodeSocketStream reads null once the peer ends, and rejects reads and writes after close", async () => {
  await using p = await pair();
  await p.peer.write(new Uint8Array([9]));
  p.peer.close();
  const buffer = new Uint8Array(8);
  assert.equal(await p.stream.read(buffer), 1);
  assert.equal(await p.stream.read(buffer), null);
  p.stream.close();
  await assert.rejects(p.stream.read(buffer), /the stream was closed/);
  await assert.rejects(p.stream.write(new Uint8Array(1)));
});

Deno.test("nodeSocketStream pauses early for many tiny chunks: each counts against maxQueued beyond its bytes", async () => {
  await using p = await pair(2048);
  // 500 bytes in all, well under the bound, but in hundreds of segments.
  for (let i = 0; i < 500 && !p.socket.isPaused(); i++) {
    await p.peer.write(new Uint8Array([i & 255]));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await waitFor(() => p.socket.isPaused(), {
    message: "the socket to pause on the number of chunks",
  });
  const buffer = new Uint8Array(4096);
  const n = await p.stream.read(buffer);
  assert.ok(n !== null && n > 0 && n < 500);
  await waitFor(() => !p.socket.isPaused(), {
    message: "the socket to resume once read",
  });
});

Deno.test("nodeSocketStream rejects a pending read and later writes when the socket fails", async () => {
  await using p = await pair();
  const reading = p.stream.read(new Uint8Array(8));
  p.socket.destroy(new Error("the link failed"));
  await assert.rejects(reading, /the link failed/);
  await assert.rejects(p.stream.write(new Uint8Array(1)), /the link failed/);
});

Deno.test("nodeSocketStream close rejects a pending read and a pending write, and closing again does nothing", async () => {
  await using p = await pair();
  const reading = p.stream.read(new Uint8Array(8));
  await assert.rejects(
    p.stream.read(new Uint8Array(8)),
    /a read is already pending/,
  );
  const writing = p.stream.write(new Uint8Array(32 * 1024 * 1024));
  await waitFor(() => p.socket.writableLength > 0, {
    message: "a write the peer does not take",
  });
  p.stream.close();
  p.stream.close();
  await assert.rejects(reading, /the stream was closed/);
  await assert.rejects(writing);
});

Deno.test("nodeSocketStream refuses to read into an empty buffer", async () => {
  await using p = await pair();
  await assert.rejects(p.stream.read(new Uint8Array(0)), RangeError);
});

Deno.test("nodeSocketStream names an IPv4 peer of a dual-stack listener by its IPv4 address", async () => {
  const accepted = Promise.withResolvers<ByteStream>();
  const net = createServer((socket) =>
    accepted.resolve(nodeSocketStream(socket))
  );
  await new Promise<void>((resolve) => net.listen(0, "::", resolve));
  try {
    const port = (net.address() as { port: number }).port;
    using _peer = await Deno.connect({ hostname: "127.0.0.1", port });
    const stream = await accepted.promise;
    assert.equal(stream.remoteAddr.hostname, "127.0.0.1");
    stream.close();
  } finally {
    await new Promise((resolve) => net.close(resolve));
  }
});

Deno.test("nodeSocketStream refuses a maxQueued that is not a positive whole number", async () => {
  await using p = await pair();
  assert.throws(
    () => nodeSocketStream(p.socket, { maxQueued: 0 }),
    /maxQueued must be a positive whole number of bytes, not 0/,
  );
});
