// Leaving on purpose with resumption on: a goodbye, or a WebSocket closed
// with 1000 or 1001, ends the session at once; a lost connection lingers.

import assert from "node:assert/strict";
import { connect } from "../client/connect.ts";
import {
  nextEvent,
  REQUEST,
  requestFrame,
  startServer,
  waitFor,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import type { SessionEvent } from "./options.ts";
import { Server } from "./server.ts";

const request = (requestId: number, path: string) => ({
  requestId,
  requestType: REQUEST,
  pathOneof: { case: "path" as const, value: path },
});

Deno.test("Server ends a session that says /_nanorpc/goodbye at once, without lingering", async () => {
  await using t = await startServer((server) => {
    server.handle("/login", (ctx) => ctx.session.bind("ada"));
  });
  const raw = await t.connectRaw();
  await raw.call(request(1, "/login"));
  assert.equal(
    (await raw.call(request(2, "/_nanorpc/session"))).responseStatus,
    Status.OK,
  );
  const closed = nextEvent<SessionEvent>(t.server, "sessionclose");
  const bye = await raw.call(request(3, "/_nanorpc/goodbye"));
  assert.equal(bye.responseStatus, Status.OK);
  assert.equal((await closed).reason, "the peer said goodbye");
  assert.equal(await raw.closedByServer(), true);
  assert.equal(t.server.sessions.size, 0);
  assert.equal(t.server.stats().lingeringSessions, 0);
  assert.equal(t.server.sessionByUid("ada"), undefined);
});

Deno.test("Client close with resume says goodbye, so its session does not linger for the grace", async () => {
  let closes = 0;
  await using t = await startServer((server) => {
    server.handle("/login", (ctx) => {
      ctx.session.bind("ada");
      server.group("room").add(ctx.session);
    });
    server.addEventListener("sessionclose", () => closes++);
  });
  const client = await connect(t.url, { resume: true, keepalive: false });
  await client.request("/login");
  await client.close();
  await waitFor(() => t.server.sessions.size === 0, {
    message: "the session to end",
  });
  assert.equal(t.server.stats().lingeringSessions, 0);
  assert.equal(t.server.group("room").count, 0);
  assert.equal(closes, 1);
});

/** A server with resumption on an HTTP listener at port 0. */
async function wsServer() {
  const server = new Server({ logLevel: "error" });
  const listener = await server.listen({ http: { port: 0 } });
  return { server, port: Number(new URL(listener.url).port) };
}

/**
 * A raw WebSocket peer on TCP: the handshake, then a session request for a
 * token; `close(code)` sends a close frame, `drop()` just hangs up (the
 * server sees 1006). Frames are masked with a zero key, so payloads read
 * as they are.
 */
async function rawWsPeer(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET /nanorpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  const frame = requestFrame(request(1, "/_nanorpc/session"));
  await conn.write(
    new Uint8Array([0x82, 0x80 | frame.length, 0, 0, 0, 0, ...frame]),
  );
  // Wait for the answer after the handshake's head.
  const buffer = new Uint8Array(4096);
  let got = "";
  while (!/\r\n\r\n[\s\S]+/.test(got)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the server hung up");
    got += String.fromCharCode(...buffer.subarray(0, n));
  }
  return {
    async close(code: number) {
      await conn.write(
        new Uint8Array([0x88, 0x80 | 2, 0, 0, 0, 0, code >> 8, code & 0xff]),
      );
      while (await conn.read(buffer).catch(() => null) !== null) {
        // Until the server's close ends the connection.
      }
      conn.close();
    },
    drop: () => conn.close(),
  };
}

for (const code of [1000, 1001]) {
  Deno.test(`Server ends a resumable WebSocket session at once when the peer closes with ${code}`, async () => {
    const { server, port } = await wsServer();
    const peer = await rawWsPeer(port);
    const closed = nextEvent<SessionEvent>(server, "sessionclose");
    await peer.close(code);
    assert.equal((await closed).reason, "peer closed the connection");
    assert.equal(server.stats().lingeringSessions, 0);
    assert.equal(server.sessions.size, 0);
    await server.shutdown();
  });
}

Deno.test("Server keeps a resumable WebSocket session lingering when the connection is lost without a close", async () => {
  const { server, port } = await wsServer();
  const peer = await rawWsPeer(port);
  peer.drop();
  await waitFor(() => server.stats().lingeringSessions === 1, {
    message: "the session to linger",
  });
  assert.equal(server.sessions.size, 1);
  await server.shutdown();
});
