// Listeners: a live UNIX socket is never taken over, a failed listen names
// its address, and one listener closes while the others go on.

import assert from "node:assert/strict";
import { pathRequest, RawClient, silentLogger } from "../testing/mod.ts";
import { Server } from "./server.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("Server refuses a UNIX path another server is listening on", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const a = new Server({ logger: silentLogger });
  const b = new Server({ logger: silentLogger });
  try {
    await a.listen({ path });
    await assert.rejects(b.listen({ path }), (err: Error) => {
      assert.ok(err instanceof Deno.errors.AddrInUse);
      assert.match(err.message, /another server is listening there/);
      return true;
    });
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } finally {
    await a.shutdown();
    await b.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Server.listen names the TCP or HTTP address that is already in use", async () => {
  const a = new Server({ logger: silentLogger });
  const b = new Server({ logger: silentLogger });
  try {
    const tcp = await a.listen({ port: 0 });
    const http = await a.listen({ http: { port: 0 } });
    for (const [taken, options] of [[tcp, {}], [http, undefined]] as const) {
      const port = (taken.addr as Deno.NetAddr).port;
      const again = options ? { port } : { http: { port } };
      await assert.rejects(b.listen(again), (err: Error) => {
        assert.ok(err instanceof Deno.errors.AddrInUse);
        assert.equal(
          err.message.startsWith(`Cannot listen on ${taken.url}: `),
          true,
          err.message,
        );
        return true;
      });
    }
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

Deno.test("Listener.close stops accepting there alone: its sessions and the other listeners go on", async () => {
  const server = new Server({ logger: silentLogger });
  server.handle("/echo", (ctx) => ctx.data);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/one.sock`;
  try {
    const one = await server.listen({ hostname: "127.0.0.1", port: 0 });
    const two = await server.listen({ hostname: "127.0.0.1", port: 0 });
    const unix = await server.listen({ path });
    const port = (one.addr as Deno.NetAddr).port;
    using before = await RawClient.connect({
      transport: "tcp",
      hostname: "127.0.0.1",
      port,
    });
    await one.close();
    await one.close(); // Once is enough; again does nothing.
    await unix.close();
    assert.deepEqual(server.listeners.map((l) => l.url), [two.url]);
    // No one accepts there any more, and the UNIX socket file is gone.
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    // What it accepted goes on, and so does the other listener.
    const echo = await before.call(pathRequest(1, "/echo", text("still")));
    assert.equal(decode(echo.data), "still");
    using after = await RawClient.connect(two.addr as Deno.NetAddr);
    const other = await after.call(pathRequest(1, "/echo", text("two")));
    assert.equal(decode(other.data), "two");
    assert.equal(server.stats().sessions, 2);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
