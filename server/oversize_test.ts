// Oversize claims: a length prefix over maxMessageSize —
// 1 GiB, 4 GiB, or a varint longer than 10 bytes — closes that connection
// at once, hundreds at a time, without allocating what the prefix claims,
// and every other session goes on.

import assert from "node:assert/strict";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { RawPeer } from "./_testing.ts";
import type { Logger } from "./logger.ts";
import { Server } from "./server.ts";

const GiB = 1024 ** 3;

function varint(value: number): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** The hostile openings, each sent by many connections at once. */
const CLAIMS: Record<string, Uint8Array> = {
  "1 GiB prefix": new Uint8Array([...varint(GiB), 0x08, 0x01]),
  "4 GiB prefix": new Uint8Array(varint(4 * GiB)),
  "4 GiB - 1 prefix": new Uint8Array([...varint(4 * GiB - 1), 0x08]),
  "2^63 prefix": new Uint8Array([...Array(9).fill(0x80), 0x01]),
  "11-byte varint prefix": new Uint8Array([...Array(10).fill(0xff), 0x01]),
  "maxMessageSize + 1 prefix": new Uint8Array(varint(64 * 1024 + 1)),
};

const quiet: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};

/** Reads until the server closes; resolves with the bytes that came. */
async function bytesUntilClosed(conn: Deno.Conn, ms = 5000): Promise<number> {
  const timer = setTimeout(() => conn.close(), ms);
  const buf = new Uint8Array(1024);
  let total = 0;
  try {
    for (let n; (n = await conn.read(buf)) !== null;) total += n;
    return total;
  } catch {
    throw new Error(`the server did not close the connection within ${ms} ms`);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

async function connectMany(
  addr: Deno.NetAddr,
  n: number,
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  // Batches keep within the accept backlog, so no SYN waits for a retry.
  for (let i = 0; i < n; i += 50) {
    const batch = Math.min(50, n - i);
    conns.push(
      ...await Promise.all(
        Array.from(
          { length: batch },
          () => Deno.connect({ hostname: addr.hostname, port: addr.port }),
        ),
      ),
    );
  }
  return conns;
}

Deno.test("Server closes hundreds of connections claiming 1 GiB and 4 GiB frames at once, without allocating them", async () => {
  await using server = new Server({ maxMessageSize: 64 * 1024, logger: quiet });
  server.handle("/echo", (ctx) => ctx.data);
  server.topic("/t");
  const listener = await server.listen({ port: 0 });
  const addr = listener.addr as Deno.NetAddr;

  const good = await RawPeer.connect(addr);
  const ack = await good.call({
    requestId: 77,
    requestType: RequestType.SUBSCRIBE,
    pathOneof: { case: "path", value: "/t" },
  });
  assert.equal(ack.responseStatus, Status.OK);

  const perClaim = 200;
  const externalBefore = Deno.memoryUsage().external;
  let peakExternal = externalBefore;
  const sampler = setInterval(() => {
    peakExternal = Math.max(peakExternal, Deno.memoryUsage().external);
  }, 1);
  let closes = 0;
  try {
    for (const [name, claim] of Object.entries(CLAIMS)) {
      const conns = await connectMany(addr, perClaim);
      const started = performance.now();
      await Promise.all(conns.map((c) => c.write(claim)));
      const answered = await Promise.all(conns.map((c) => bytesUntilClosed(c)));
      const took = performance.now() - started;
      assert.deepEqual(
        answered.filter((n) => n > 0),
        [],
        `${name}: a connection got an answer`,
      );
      closes += perClaim;
      assert.equal(server.stats().malformedCloses, closes, name);
      assert.ok(took < 5000, `${name}: closing took ${took.toFixed(0)} ms`);

      // The good session is untouched: it answers and still gets updates.
      const pong = await good.call({
        requestId: closes,
        requestType: RequestType.PING,
      });
      assert.equal(pong.responseType, ResponseType.PONG);
      assert.equal(pong.requestId, closes);
      server.publish("/t", new Uint8Array([closes & 0xff]));
      const update = await good.read();
      assert.equal(update.responseType, ResponseType.UPDATE);
      assert.equal(update.requestId, 77);
    }
  } finally {
    clearInterval(sampler);
  }
  // Nothing like a claimed size was ever allocated (the read buffers of
  // 1,200 sessions are a few MiB at most).
  const grew = peakExternal - externalBefore;
  assert.ok(grew < 32 * 1024 * 1024, `external memory grew ${grew} bytes`);
  assert.equal(server.stats().sessions, 1);
  good.close();
});

Deno.test("Server closes a connection whose oversize prefix arrives a byte at a time", async () => {
  await using server = new Server({ logger: quiet });
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);
  for (const byte of varint(GiB)) {
    await peer.write(new Uint8Array([byte]));
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(await bytesUntilClosed(peer.conn), 0);
  assert.equal(server.stats().malformedCloses, 1);
});

Deno.test("Server answers the frames before an oversize claim, then closes", async () => {
  await using server = new Server({ logger: quiet });
  const { addr } = await server.listen({ port: 0 });
  const peer = await RawPeer.connect(addr);
  const ping = new Uint8Array([4, 0x08, 0x05, 0x10, 0x01]);
  await peer.write(new Uint8Array([...ping, ...varint(4 * GiB), 0, 0, 0]));
  const pong = await peer.read();
  assert.equal(pong.requestId, 5);
  assert.equal(pong.responseType, ResponseType.PONG);
  assert.equal(await peer.closedByServer(), true);
  peer.close();
});
