// UNIX listeners: a live socket is never taken over.

import assert from "node:assert/strict";
import { silentLogger } from "../testing/mod.ts";
import { Server } from "./server.ts";

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
