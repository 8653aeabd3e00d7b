import assert from "node:assert/strict";
import { create, fromBinary } from "@bufbuild/protobuf";
import {
  sizeDelimitedEncode,
  sizeDelimitedPeek,
} from "@bufbuild/protobuf/wire";
import {
  type NanoRPCRequest,
  NanoRPCRequestSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { runWithGc } from "../testing/_gc_child.ts";
import { waitFor, within } from "../testing/wait.ts";
import type { ByteStream } from "./byte_stream.ts";
import { openWebSocket } from "./open_websocket.ts";
import {
  truncateReason,
  type WebSocketByteStream,
  type WebSocketStats,
  websocketStream,
  type WebSocketStreamOptions,
} from "./websocket.ts";

/** A real `Deno.serve` that upgrades every request and adapts the socket. */
function startServer(options: WebSocketStreamOptions = {}) {
  const stats: WebSocketStats = { inboundOverflows: 0, textMessages: 0 };
  const accepted: WebSocketByteStream[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => {
      const remoteAddr = info.remoteAddr;
      const { socket, response } = Deno.upgradeWebSocket(req);
      accepted.push(websocketStream(socket, { ...options, remoteAddr, stats }));
      return response;
    },
  );
  const url = `ws://127.0.0.1:${server.addr.port}/nanorpc`;
  const next = async () => {
    await waitFor(() => accepted.length > 0, {
      timeout: 5000,
      message: "an accepted socket",
    });
    return accepted.shift()!;
  };
  return {
    url,
    port: server.addr.port,
    stats,
    next,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A raw client WebSocket that resolves once open. */
async function rawClient(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return ws;
}

function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) =>
    ws.readyState === WebSocket.CLOSED
      ? resolve(new CloseEvent("close"))
      : ws.addEventListener("close", resolve, { once: true })
  );
}

function frame(id: number, data: Uint8Array): Uint8Array {
  return sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: id,
      requestType: 2, // REQUEST
      pathOneof: { case: "path", value: "/echo" },
      data,
    }),
  );
}

/** Reads `count` request frames from `stream`, splitting with protobuf-es. */
async function readFrames(
  stream: ByteStream,
  count: number,
): Promise<NanoRPCRequest[]> {
  const frames: NanoRPCRequest[] = [];
  let pending = new Uint8Array(0);
  const chunk = new Uint8Array(1000);
  while (frames.length < count) {
    const peek = sizeDelimitedPeek(pending);
    if (!peek.eof && peek.offset + peek.size <= pending.length) {
      const end = peek.offset + peek.size;
      frames.push(
        fromBinary(NanoRPCRequestSchema, pending.subarray(peek.offset, end)),
      );
      pending = pending.slice(end);
      continue;
    }
    const n = await stream.read(chunk);
    if (n === null) throw new Error("stream ended early");
    const grown = new Uint8Array(pending.length + n);
    grown.set(pending);
    grown.set(chunk.subarray(0, n), pending.length);
    pending = grown;
  }
  return frames;
}

Deno.test("websocketStream reads a frame split across binary messages whole", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const stream = await server.next();
  const bytes = frame(7, new Uint8Array(3000).fill(42));
  ws.send(bytes.subarray(0, 1));
  ws.send(bytes.subarray(1, 1500));
  ws.send(bytes.subarray(1500));
  const [request] = await readFrames(stream, 1);
  assert.equal(request.requestId, 7);
  assert.deepEqual(request.data, new Uint8Array(3000).fill(42));
  assert.equal(stream.transport, "ws");
  assert.equal(stream.remoteAddr.hostname, "127.0.0.1");
  assert.ok((stream.remoteAddr.port ?? 0) > 0);
  ws.close();
  assert.equal(await stream.read(new Uint8Array(10)), null);
});

Deno.test("websocketStream reads many frames sent in one message in order", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const stream = await server.next();
  const parts = Array.from(
    { length: 50 },
    (_, i) => frame(i + 1, new Uint8Array([i])),
  );
  const message = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (message.set(p, at), at + p.length), 0);
  ws.send(message);
  const requests = await readFrames(stream, 50);
  assert.deepEqual(
    requests.map((r) => r.requestId),
    parts.map((_, i) => i + 1),
  );
  assert.equal(stream.bufferedIn, 0);
  ws.close();
  await closed(ws);
});

Deno.test("websocketStream carries bytes both ways between server and openWebSocket", async () => {
  await using server = startServer();
  const client = await openWebSocket(server.url, { timeout: 5000 });
  const stream = await server.next();
  await client.write(frame(1, new Uint8Array([1, 2, 3])));
  const [request] = await readFrames(stream, 1);
  await stream.write(frame(2, request.data));
  const [answer] = await readFrames(client, 1);
  assert.equal(answer.requestId, 2);
  assert.deepEqual(answer.data, new Uint8Array([1, 2, 3]));
  assert.deepEqual(client.remoteAddr, {
    transport: "ws",
    hostname: "127.0.0.1",
    port: server.port,
  });
  client.close("done");
  assert.equal(await stream.read(new Uint8Array(8)), null);
  await assert.rejects(client.write(new Uint8Array([1])), /closed/);
});

Deno.test("websocketStream write sends a long write as messages of at most maxSendSize", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const sizes: number[] = [];
  ws.onmessage = (e) => sizes.push((e.data as ArrayBuffer).byteLength);
  const stream = await server.next();
  await stream.write(new Uint8Array(100).fill(7));
  await stream.write(new Uint8Array(200_000).fill(8));
  await waitFor(() => sizes.reduce((a, b) => a + b, 0) === 200_100, {
    message: "every byte to arrive",
  });
  assert.deepEqual(sizes, [100, 65536, 65536, 65536, 3392]);
  ws.close();
  await closed(ws);
});

Deno.test("websocketStream write waits for a server socket to open", async () => {
  const stats: WebSocketStats = { inboundOverflows: 0, textMessages: 0 };
  const writes: Promise<void>[] = [];
  await using _server = {
    server: Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => {
        const { socket, response } = Deno.upgradeWebSocket(req);
        const stream = websocketStream(socket, { stats });
        writes.push(stream.write(new Uint8Array([9, 8, 7])));
        return response;
      },
    ),
    [Symbol.asyncDispose]() {
      return this.server.shutdown();
    },
  };
  const ws = new WebSocket(`ws://127.0.0.1:${_server.server.addr.port}/`);
  ws.binaryType = "arraybuffer";
  const message = await new Promise<MessageEvent>((resolve) =>
    ws.onmessage = resolve
  );
  assert.deepEqual(new Uint8Array(message.data), new Uint8Array([9, 8, 7]));
  await Promise.all(writes);
  ws.close();
  await closed(ws);
});

Deno.test("websocketStream closes with 1003 and counts a text message", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const stream = await server.next();
  const reading = assert.rejects(
    stream.read(new Uint8Array(10)),
    /binary WebSocket messages only.*1003/,
  );
  ws.send("hello");
  const event = await closed(ws);
  assert.equal(event.code, 1003);
  assert.match(event.reason, /binary/);
  await reading;
  assert.equal(server.stats.textMessages, 1);
  await assert.rejects(stream.write(new Uint8Array([1])), /binary/);
});

Deno.test("websocketStream closes with 1009 and counts unread bytes past the bound", async () => {
  await using server = startServer({ maxBufferedIn: 64 << 10 });
  const ws = await rawClient(server.url);
  const stream = await server.next();
  ws.send(new Uint8Array(20 << 10));
  ws.send(new Uint8Array(50 << 10));
  const event = await closed(ws);
  assert.equal(event.code, 1009);
  assert.match(event.reason, /65536 bytes/);
  assert.equal(server.stats.inboundOverflows, 1);
  assert.equal(stream.bufferedIn, 0);
  await assert.rejects(stream.read(new Uint8Array(10)), /1009/);
});

Deno.test("websocketStream close sends a normal close with the reason", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const stream = await server.next();
  const reading = stream.read(new Uint8Array(10));
  stream.close("server shutting down");
  stream.close("twice does nothing");
  const event = await closed(ws);
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "server shutting down");
  assert.equal(await reading, null);
});

Deno.test("websocketStream read throws for an abnormal close code from the peer", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const stream = await server.next();
  ws.send(new Uint8Array([1, 2]));
  ws.close(4001, "go away");
  const buffer = new Uint8Array(10);
  assert.equal(await stream.read(buffer), 2);
  await assert.rejects(stream.read(buffer), /code 4001: go away/);
  assert.equal(stream.peerClosed, false);
});

Deno.test("websocketStream peerClosed says the peer closed on purpose with 1000", async () => {
  await using server = startServer();
  const ws = await rawClient(server.url);
  const stream = await server.next();
  assert.equal(stream.peerClosed, false);
  ws.close(1000, "done");
  assert.equal(await stream.read(new Uint8Array(10)), null);
  assert.equal(stream.peerClosed, true);
});

Deno.test("openWebSocket rejects with advice when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    openWebSocket(`ws://127.0.0.1:${port}/nanorpc`),
    /closed before it opened.*check the URL and that the server is up/,
  );
});

Deno.test("openWebSocket gives up after its timeout and on abort", async () => {
  // Accepts TCP but never answers the handshake.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const url = `ws://127.0.0.1:${listener.addr.port}/`;
  await assert.rejects(
    openWebSocket(url, { timeout: 50 }),
    /did not open within 50 ms/,
  );
  const controller = new AbortController();
  const opening = openWebSocket(url, { signal: controller.signal });
  controller.abort(new Error("user left"));
  await assert.rejects(opening, (error: Error) => {
    assert.match(error.message, /cancelled/);
    assert.equal((error.cause as Error).message, "user left");
    return true;
  });
  await assert.rejects(
    openWebSocket(url, { signal: controller.signal }),
    /user left/,
  );
  listener.close();
  await accepting.catch(() => {});
  for (const conn of conns) conn.close();
});

Deno.test("truncateReason keeps close reasons within 123 bytes", () => {
  assert.equal(truncateReason("short"), "short");
  const long = truncateReason("é".repeat(100));
  assert.ok(new TextEncoder().encode(long).length <= 123);
  assert.ok(long.endsWith("…"));
});

/** A WebSocket peer on a raw TCP socket: it reads only once resumed. */
async function rawPeer(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = "GET /nanorpc HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  await conn.write(new TextEncoder().encode(request));
  let head = "";
  const byte = new Uint8Array(1);
  while (!head.endsWith("\r\n\r\n")) {
    if (await conn.read(byte) === null) throw new Error("no handshake");
    head += String.fromCharCode(byte[0]);
  }
  assert.match(head, /^HTTP\/1.1 101/);
  const peer = { conn, payload: 0, reading: Promise.resolve(), resume };
  /** Reads from now on, counting the payload bytes of binary messages. */
  function resume() {
    peer.reading = (async () => {
      let pending = new Uint8Array(0);
      const chunk = new Uint8Array(1 << 16);
      for (;;) {
        const n = await conn.read(chunk).catch(() => null);
        if (n === null) return;
        const grown = new Uint8Array(pending.length + n);
        grown.set(pending);
        grown.set(chunk.subarray(0, n), pending.length);
        pending = grown;
        for (;;) {
          const header = frameHeader(pending);
          if (!header || pending.length < header.at + header.size) break;
          if ((pending[0] & 0x0f) === 8) return; // close
          assert.equal(pending[0] & 0x0f, 2, "a binary message");
          peer.payload += header.size;
          pending = pending.slice(header.at + header.size);
        }
      }
    })();
  }
  return peer;
}

/** Where an unmasked WebSocket frame's payload starts, and its size. */
function frameHeader(bytes: Uint8Array) {
  if (bytes.length < 2) return undefined;
  const size = bytes[1] & 0x7f;
  if (size < 126) return { at: 2, size };
  if (size === 126) {
    return bytes.length < 4
      ? undefined
      : { at: 4, size: (bytes[2] << 8) | bytes[3] };
  }
  if (bytes.length < 10) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { at: 10, size: Number(view.getBigUint64(2)) };
}

Deno.test("websocketStream write pends while the peer stops reading, and memory stays bounded", async () => {
  const writeLowWater = 64 << 10;
  await using server = startServer({ writeLowWater });
  const peer = await rawPeer(server.port);
  const stream = await server.next();
  const chunk = new Uint8Array(64 << 10).fill(7);
  let sent = 0;
  let stop = false;
  const writing = (async () => {
    while (!stop) {
      await stream.write(chunk);
      sent += chunk.length;
    }
  })();
  // The peer reads nothing: the kernel's buffers fill, Deno's
  // bufferedAmount rises, and the write in flight stops settling. Stalled =
  // nothing sent and bufferedAmount unchanged over ten looks in a row.
  let highest = 0;
  let last = [-1, -1];
  let same = 0;
  await waitFor(() => {
    const buffered = stream.socket.bufferedAmount;
    highest = Math.max(highest, buffered);
    same = sent === last[0] && buffered === last[1] ? same + 1 : 0;
    last = [sent, buffered];
    return same >= 10 && buffered > writeLowWater;
  }, { timeout: 20_000, message: "the writer to stall" });
  const stalledAt = sent;
  assert.ok(highest <= writeLowWater + chunk.length, `buffered ${highest}`);
  assert.ok(stalledAt < 64 << 20, `${stalledAt} bytes sent before stalling`);
  // The peer reads again: the pending write settles and every byte arrives.
  peer.resume();
  await waitFor(() => sent > stalledAt + chunk.length, {
    timeout: 20_000,
    message: "writes",
  });
  stop = true;
  await writing;
  await waitFor(() => peer.payload === sent, {
    timeout: 20_000,
    message: "all bytes to arrive",
  });
  stream.close();
  await peer.reading;
  peer.conn.close();
});

Deno.test("websocketStream write keeps no memory per slow write once it settles", async () => {
  // Run in a child with --expose-gc: two thousand writes over a real socket
  // that each wait (writeLowWater 0: a sent message is buffered until the
  // next tick), then the heap is compared with the socket still open.
  const script = `
    import { websocketStream } from ${
    JSON.stringify(import.meta.resolve("./websocket.ts"))
  };
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      globalThis.stream = websocketStream(socket, { writeLowWater: 0, drainPollMs: 1 });
      return response;
    });
    const ws = new WebSocket("ws://127.0.0.1:" + server.addr.port);
    await new Promise((r) => ws.onopen = r);
    while (!globalThis.stream || globalThis.stream.socket.readyState !== 1) {
      await new Promise((r) => setTimeout(r, 1));
    }
    const heap = async () => {
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); }
      return Deno.memoryUsage().heapUsed;
    };
    const one = new Uint8Array(1);
    for (let i = 0; i < 200; i++) await globalThis.stream.write(one);
    const before = await heap();
    for (let i = 0; i < 2000; i++) await globalThis.stream.write(one);
    console.log(JSON.stringify({ grown: (await heap()) - before, open: ws.readyState === 1 }));
    ws.close();
    await server.shutdown();
  `;
  const { grown, open } = await runWithGc<{ grown: number; open: boolean }>(
    script,
  );
  assert.ok(open, "the socket stayed open while measuring");
  // Each settled write used to keep ~800 bytes until the socket closed.
  assert.ok(grown < 500_000, `heap grew ${grown} bytes over 2000 slow writes`);
});

Deno.test("websocketStream write backs off to a look a second for a stuck peer, and rejects once closed", async () => {
  await using server = startServer({ writeLowWater: 0, drainPollMs: 20 });
  const peer = await rawPeer(server.port);
  const stream = await server.next();
  const socket = stream.socket;
  const real = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(socket),
    "bufferedAmount",
  )!;
  let looks = 0;
  let stuck = false;
  Object.defineProperty(socket, "bufferedAmount", {
    get() {
      looks++;
      return stuck ? 1 : real.get!.call(socket);
    },
  });
  stuck = true; // a peer whose buffered bytes never drain
  const started = Date.now();
  const writing = stream.write(new Uint8Array([1]));
  let outcome = "pending";
  writing.then(() => outcome = "settled", () => outcome = "rejected");
  await waitFor(() => Date.now() - started >= 3000, {
    timeout: 10_000,
    message: "three seconds of waiting",
  });
  assert.equal(outcome, "pending");
  // ~1 s at ≤ 20 ms a look, then a look a second: well under 3000 / 20.
  assert.ok(looks <= 70, `${looks} looks at bufferedAmount in 3 s`);
  stream.close();
  await assert.rejects(writing, /closed/);
  peer.conn.close();
});

Deno.test("websocketStream counts each buffered message against maxBufferedIn, so tiny messages cannot pile up", async () => {
  await using server = startServer({ maxBufferedIn: 64 << 10 });
  const ws = await rawClient(server.url);
  const stream = await server.next();
  // 1,000 bytes in all, far under the bound, but 1,000 messages.
  for (let i = 0; i < 1000; i++) ws.send(new Uint8Array([i & 255]));
  // (a peer still sending may see an abnormal closure rather than 1009)
  await within(closed(ws), { message: "the overflow close" });
  assert.equal(server.stats.inboundOverflows, 1);
  await assert.rejects(stream.read(new Uint8Array(10)), /1009/);
});

Deno.test("websocketStream on a client socket closes with 4003 for a text message, since a client may not send 1003", async () => {
  const serverSide = Promise.withResolvers<WebSocket>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onopen = () => serverSide.resolve(socket);
      return response;
    },
  );
  try {
    const stream = await openWebSocket(`ws://127.0.0.1:${server.addr.port}/`);
    const peer = await serverSide.promise;
    const closing = closed(peer);
    const reading = stream.read(new Uint8Array(8));
    peer.send("text");
    await assert.rejects(reading, /binary WebSocket messages only.*4003/);
    assert.equal((await closing).code, 4003);
  } finally {
    await server.shutdown();
  }
});
