// What an idle session keeps of a large frame it was sent: once served, its
// read buffer shrinks back, and nothing else of the connection's keeps the
// large one alive.

import assert from "node:assert/strict";
import { runWithGc } from "../testing/_gc_child.ts";

/**
 * In a child with --expose-gc: 40 connections each send one request of
 * `size` bytes and then stay open, idle; resolves the ArrayBuffer bytes
 * the process holds after against before, and the sessions open then.
 */
function idleAfterOneFrame(size: number) {
  const script = `
    import { Server } from ${JSON.stringify(import.meta.resolve("./mod.ts"))};
    import { RawClient } from ${
    JSON.stringify(import.meta.resolve("../testing/raw_client.ts"))
  };
    const server = new Server({ logLevel: "error", maxMessageSize: 1 << 20 });
    server.handle("/size", (ctx) => String(ctx.data.length));
    const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
    const held = async () => {
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); }
      return Deno.memoryUsage().external;
    };
    const before = await held();
    const clients = [];
    const data = new Uint8Array(${size});
    for (let i = 0; i < 40; i++) {
      const client = await RawClient.connect(listener.addr);
      clients.push(client);
      await client.send({ requestId: 1, requestType: 2 /* REQUEST */,
        pathOneof: { case: "path", value: "/size" }, data });
      const answer = await client.read();
      if (new TextDecoder().decode(answer.data) !== "${size}") throw new Error("bad answer");
    }
    const after = await held();
    console.log(JSON.stringify({ grown: after - before, sessions: server.sessions.size }));
    for (const client of clients) client.close();
    await server.shutdown();
  `;
  return runWithGc<{ grown: number; sessions: number }>(script);
}

Deno.test("Server keeps no large read buffer alive for idle sessions that each sent one large frame", async () => {
  // Their read buffers grow to 1 MiB.
  const { grown, sessions } = await idleAfterOneFrame(600_000);
  assert.equal(sessions, 40, "the connections stayed open while measuring");
  // Each idle session used to keep its 1 MiB buffer: 40 MiB in all. Now
  // each keeps its 4 KiB one (and the clients their own buffers).
  assert.ok(
    grown < 16 * 1024 * 1024,
    `ArrayBuffers grew ${grown} bytes for 40 idle sessions`,
  );
});

Deno.test("Server keeps no 64 KiB read buffer alive for idle sessions that each sent one 5 KB frame", async () => {
  // Their read buffers grow to 64 KiB and shrink back to 4 KiB after the
  // read: nothing (the cursor's kept data views) may hold the 64 KiB one.
  const { grown, sessions } = await idleAfterOneFrame(5_000);
  assert.equal(sessions, 40, "the connections stayed open while measuring");
  assert.ok(
    grown < 1024 * 1024,
    `ArrayBuffers grew ${grown} bytes for 40 idle sessions (64 KiB each would be 2.5 MiB)`,
  );
});
