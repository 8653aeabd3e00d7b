// A WebSocket peer that stops reading, on a raw TCP socket (a browser or
// Deno WebSocket always reads): the server holds at most its outgoing
// buffer for it, drops and counts the updates past it, serves everyone else
// in full, and closes it when a response cannot fit.

import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import {
  FrameSplitter,
  REQUEST,
  requestFrame,
  SUBSCRIBE,
  UPDATE,
  waitFor,
  within,
} from "../testing/mod.ts";
import { Server } from "./server.ts";

const BUFFER = 256 * 1024;
const UPDATE_SIZE = 16 * 1024;
const PUBLISHED = 48 * 1024 * 1024;
const WINDOW = 4;

/** One masked binary WebSocket frame (mask key 0: the payload as is). */
function clientFrame(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? [0x82, 0x80 | n] : [0x82, 0x80 | 126, n >> 8, n & 255];
  const out = new Uint8Array(head.length + 4 + n);
  out.set(head);
  out.set(payload, head.length + 4);
  return out;
}

/** A WebSocket peer on raw TCP that reads nothing after the handshake. */
async function deafPeer(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET /nanorpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  let head = "";
  const byte = new Uint8Array(1);
  while (!head.endsWith("\r\n\r\n")) {
    if (await conn.read(byte) === null) throw new Error("no handshake");
    head += String.fromCharCode(byte[0]);
  }
  assert.match(head, /^HTTP\/1.1 101/);
  return conn;
}

/** A WebSocket subscriber of `/t` that counts its updates. */
async function reader(url: string) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const splitter = new FrameSplitter(NanoRPCResponseSchema);
  const peer = { ws, updates: 0, acked: false };
  ws.onmessage = (e) => {
    for (const r of splitter.push(new Uint8Array(e.data as ArrayBuffer))) {
      if (r.responseType === UPDATE) peer.updates++;
      else peer.acked = true;
    }
  };
  await new Promise((resolve) => ws.onopen = resolve);
  ws.send(subscribe(1));
  await waitFor(() => peer.acked, { message: "the reader's ack" });
  return peer;
}

function subscribe(id: number): Uint8Array {
  return requestFrame({
    requestId: id,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  });
}

Deno.test("a WebSocket peer that stops reading costs the server its outgoing buffer: updates dropped and counted, others served, an unfitting response closes it", async () => {
  await using server = new Server({
    outgoingBufferSize: BUFFER,
    logLevel: "error",
  });
  server.topic("/t");
  server.handle("/big", () => new Uint8Array(200 * 1024));
  const listener = await server.listen({ http: { port: 0 } });
  const { port } = listener.addr as Deno.NetAddr;
  const deaf = await deafPeer(port);
  try {
    await deaf.write(clientFrame(subscribe(7)));
    await waitFor(() => server.stats().subscriptions === 1, {
      message: "the deaf peer's subscription",
    });
    const [deafSession] = server.sessions.values();
    const good = await reader(`ws://127.0.0.1:${port}/nanorpc`);

    const update = new Uint8Array(UPDATE_SIZE).fill(1);
    const count = PUBLISHED / UPDATE_SIZE;
    for (let sent = 0; sent < count;) {
      for (let i = 0; i < WINDOW; i++, sent++) server.publish("/t", update);
      // The reader keeps up; the deaf peer's share piles up or is dropped.
      await waitFor(() => good.updates === sent, {
        timeout: 20_000,
        message: `update ${sent} at the reader`,
      });
    }
    assert.equal(good.updates, count);
    const dropped = deafSession.droppedUpdates;
    assert.equal(server.stats().droppedUpdates, dropped);
    // What was not dropped went to the socket or waits in the outbox: a
    // bounded amount (the outbox, Deno's low-water mark, kernel buffers),
    // however much was published.
    const kept = (count - dropped) * UPDATE_SIZE;
    assert.ok(kept < 16 * 1024 * 1024, `${kept} bytes kept for the peer`);
    assert.ok(dropped > count / 2, `only ${dropped} of ${count} dropped`);
    assert.equal(deafSession.closed, false, "dropping updates keeps it open");

    // A response is never dropped: one that cannot fit closes the session.
    await deaf.write(clientFrame(requestFrame({
      requestId: 8,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/big" },
    })));
    await waitFor(() => server.stats().overflowCloses === 1, {
      message: "the overflow close",
    });
    await waitFor(() => server.sessions.size === 1, {
      message: "the deaf session to end",
    });
    good.ws.close();
  } finally {
    deaf.close();
  }
});

Deno.test("Server shutdown cuts an HTTP request whose body never finishes arriving instead of waiting for it", async () => {
  const server = new Server({ logLevel: "error", shutdownTimeout: 200 });
  let reading = false;
  const http = await server.listen({
    http: {
      hostname: "127.0.0.1",
      port: 0,
      fallback: async (request) => {
        reading = true;
        await request.arrayBuffer(); // waits for the whole body
        return new Response("read");
      },
    },
  });
  using conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(http.url).port),
  });
  await conn.write(new TextEncoder().encode(
    "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nfour",
  ));
  await waitFor(() => reading, { message: "the route to read the body" });
  await within(server.shutdown(), {
    timeout: 10_000,
    message: "shutdown with a request body still arriving",
  });
});
