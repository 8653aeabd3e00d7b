// Oversize claims: a length prefix over maxMessageSize —
// 1 GiB, 4 GiB, or a varint longer than 10 bytes — closes that connection
// at once, hundreds at a time, without allocating what the prefix claims,
// and every other session goes on.

import assert from "node:assert/strict";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  bytesUntilClosed,
  PING,
  PONG,
  startServer,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";

const GiB = 1024 ** 3;

/** A varint up to 2^64 − 1, as a length prefix claiming `n` bytes. */
function prefix(n: number): number[] {
  return [...new BinaryWriter().uint64(n).finish()];
}

/** The hostile openings, each sent by many connections at once. */
const CLAIMS: Record<string, Uint8Array> = {
  "1 GiB prefix": new Uint8Array([...prefix(GiB), 0x08, 0x01]),
  "4 GiB prefix": new Uint8Array(prefix(4 * GiB)),
  "4 GiB - 1 prefix": new Uint8Array([...prefix(4 * GiB - 1), 0x08]),
  "2^63 prefix": new Uint8Array([...Array(9).fill(0x80), 0x01]),
  "11-byte varint prefix": new Uint8Array([...Array(10).fill(0xff), 0x01]),
  "maxMessageSize + 1 prefix": new Uint8Array(prefix(64 * 1024 + 1)),
};

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
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
    server.topic("/t");
  }, { maxMessageSize: 64 * 1024 });
  const { server } = t;
  const addr = t.tcp!;

  const good = await t.connectRaw();
  const ack = await good.call({
    requestId: 77,
    requestType: SUBSCRIBE,
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
      await Promise.all(conns.map((c) => c.write(claim)));
      // Each is closed without a byte of answer (or the wait fails).
      const answered = await Promise.all(conns.map((c) => bytesUntilClosed(c)));
      assert.deepEqual(
        answered.filter((n) => n > 0),
        [],
        `${name}: a connection got an answer`,
      );
      closes += perClaim;
      assert.equal(server.stats().malformedCloses, closes, name);

      // The good session is untouched: it answers and still gets updates.
      const pong = await good.call({ requestId: closes, requestType: PING });
      assert.equal(pong.responseType, PONG);
      assert.equal(pong.requestId, closes);
      server.publish("/t", new Uint8Array([closes & 0xff]));
      const update = await good.read();
      assert.equal(update.responseType, UPDATE);
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
});

Deno.test("Server closes a connection whose oversize prefix arrives a byte at a time", async () => {
  await using t = await startServer();
  const { server } = t;
  const peer = await t.connectRaw();
  const bytes = prefix(GiB);
  for (const [i, byte] of bytes.entries()) {
    await peer.write(new Uint8Array([byte]));
    // Each byte is read on its own before the next is sent.
    await waitFor(() => server.stats().bytesIn === i + 1, {
      message: `byte ${i + 1} to be read`,
    });
  }
  assert.equal(await bytesUntilClosed(peer.conn), 0);
  assert.equal(server.stats().malformedCloses, 1);
});

Deno.test("Server answers the frames before an oversize claim, then closes", async () => {
  await using t = await startServer();
  const peer = await t.connectRaw();
  const ping = new Uint8Array([4, 0x08, 0x05, 0x10, 0x01]);
  await peer.write(new Uint8Array([...ping, ...prefix(4 * GiB), 0, 0, 0]));
  const pong = await peer.read();
  assert.equal(pong.requestId, 5);
  assert.equal(pong.responseType, PONG);
  assert.equal(await peer.closedByServer(), true);
});
