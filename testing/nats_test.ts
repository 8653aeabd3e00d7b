import assert from "node:assert/strict";
import { needsNats, startNatsServer } from "./nats.ts";
import { waitFor } from "./wait.ts";

async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

needsNats.test("startNatsServer runs nats-server that stops and restarts on its port", async () => {
  await using nats = await startNatsServer();
  assert.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(nats.running);
  assert.ok(await accepts(nats.port));
  const port = nats.port;
  await nats.stop();
  assert.equal(nats.running, false);
  assert.equal(await accepts(port), false);
  await nats.restart();
  assert.equal(nats.port, port);
  assert.ok(await accepts(port));
  await assert.rejects(() => nats.restart(), /is running/);
});

needsNats.test("startNatsServer gives each server its own port", async () => {
  await using a = await startNatsServer();
  await using b = await startNatsServer();
  assert.notEqual(a.port, b.port);
});

needsNats.test("NatsServer.clients counts connected clients, before and after a restart", async () => {
  await using nats = await startNatsServer();
  // The start's probe of the port counts until the server sees it end.
  const none = { message: "no client to be counted" };
  await waitFor(async () => await nats.clients() === 0, none);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: nats.port });
  await conn.write(new TextEncoder().encode('CONNECT {"verbose":false}\r\n'));
  await waitFor(async () => await nats.clients() === 1, {
    message: "the client to count",
  });
  conn.close();
  await waitFor(async () => await nats.clients() === 0, {
    message: "the closed client to go",
  });
  await nats.stop();
  await assert.rejects(() => nats.clients(), /not running/);
  await nats.restart();
  await waitFor(async () => await nats.clients() === 0, none);
});
