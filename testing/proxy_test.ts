import assert from "node:assert/strict";
import { startProxy } from "./proxy.ts";
import { PING, PONG } from "./frames.ts";
import { RawClient } from "./raw_client.ts";
import { startServer } from "./server.ts";
import { waitFor } from "./wait.ts";

Deno.test("startProxy forwards bytes both ways and cut drops both sides", async () => {
  await using t = await startServer();
  await using proxy = await startProxy({
    hostname: "127.0.0.1",
    port: t.tcp!.port,
  });
  using raw = await RawClient.connect({
    transport: "tcp",
    hostname: "127.0.0.1",
    port: proxy.port,
  });
  const pong = await raw.call({ requestId: 3, requestType: PING });
  assert.deepEqual([pong.requestId, pong.responseType], [3, PONG]);
  assert.equal(proxy.open, 1);
  proxy.cut();
  assert.equal(await raw.closedByServer(), true);
  await waitFor(() => t.server.stats().sessions === 0);
  assert.equal(proxy.open, 0);
});
