// What the client's reports of a caller's failing listener or callback
// leave behind: V8 keeps the arguments of the last 1,000 console calls,
// and an error keeps the functions of its stack with their closures, so
// reporting the error as it is kept its closed client (connection,
// buffers) alive.

import assert from "node:assert/strict";
import { countSurvivors } from "../testing/_gc_child.ts";

/** In a child with --expose-gc: `body` per client, then how many live. */
function survivors(body: string): Promise<{ alive: number; of: number }> {
  return countSurvivors(`
    import { Client } from ${JSON.stringify(import.meta.resolve("./mod.ts"))};
    import { Server } from ${
    JSON.stringify(import.meta.resolve("../server/mod.ts"))
  };
    const server = new Server({ logLevel: "error" });
    server.topic("/t");
    const { addr } = await server.listen({ hostname: "127.0.0.1", port: 0 });
    const once = async () => {
      const client = new Client("tcp://127.0.0.1:" + addr.port);
      refs.push(new WeakRef(client));
      ${body}
      await client.close();
    };
    for (let i = 0; i < 10; i++) await once();
    await server.shutdown();
  `);
}

Deno.test("Client lets a closed client whose listener threw be collected", async () => {
  const { alive, of } = await survivors(`
    client.addEventListener("connect", () => {
      throw new Error("a bug in the listener");
    });
    await client.opened;
  `);
  assert.equal(of, 10);
  assert.equal(alive, 0, `${alive} closed clients live on in the log`);
});

Deno.test("Client lets a closed client whose onUpdate callback threw be collected", async () => {
  const { alive, of } = await survivors(`
    const { promise, resolve } = Promise.withResolvers();
    await client.subscribe("/t", undefined, {
      onUpdate: () => {
        queueMicrotask(resolve);
        throw new Error("a bug in onUpdate");
      },
    });
    server.publish("/t", new Uint8Array(1));
    await promise;
  `);
  assert.equal(of, 10);
  assert.equal(alive, 0, `${alive} closed clients live on in the log`);
});
