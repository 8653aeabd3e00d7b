import assert from "node:assert/strict";
import { bytesUntilClosed, closeQuietly, writeAll } from "./conn.ts";
import { PING, PONG, REQUEST, RESPONSE } from "./frames.ts";
import { startServer } from "./server.ts";

Deno.test("RawClient calls a server through protobuf-es frames", async () => {
  await using t = await startServer((server) =>
    server.handle("/echo", (ctx) => ctx.data)
  );
  const raw = await t.connectRaw();
  // Two requests in one write; the answers come back in order.
  await raw.send({ requestId: 1, requestType: PING });
  await raw.send({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: new Uint8Array([4]),
  });
  const pong = await raw.read();
  const echo = await raw.read();
  assert.deepEqual([pong.requestId, pong.responseType], [1, PONG]);
  assert.deepEqual([echo.requestId, echo.responseType], [2, RESPONSE]);
  assert.deepEqual(echo.data, new Uint8Array([4]));
});

Deno.test("RawClient closedByServer tells a server that hangs up from one that does not", async () => {
  await using t = await startServer(undefined, { maxSessions: 0 });
  const refused = await t.connectRaw();
  assert.equal(await refused.closedByServer(), true);
  await using u = await startServer();
  const kept = await u.connectRaw();
  assert.equal(await kept.closedByServer(20), false);
  await assert.rejects(kept.read(), /No response|closed/);
});

async function oneShotServer(reply: Uint8Array | undefined) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    if (!reply) return conn;
    await writeAll(conn, reply);
    conn.close();
  })();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  return {
    conn,
    async [Symbol.asyncDispose]() {
      const held = await served;
      if (held) closeQuietly(held);
      listener.close();
    },
  };
}

Deno.test("bytesUntilClosed counts the bytes that came before the peer closed", async () => {
  await using peer = await oneShotServer(new Uint8Array(10_000));
  assert.equal(await bytesUntilClosed(peer.conn), 10_000);
});

Deno.test("bytesUntilClosed fails in time when the peer keeps the connection", async () => {
  await using peer = await oneShotServer(undefined);
  await assert.rejects(
    bytesUntilClosed(peer.conn, { timeout: 20 }),
    /did not close the connection within 20 ms/,
  );
});
