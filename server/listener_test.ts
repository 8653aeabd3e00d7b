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
