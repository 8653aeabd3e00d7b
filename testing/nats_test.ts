import assert from "node:assert/strict";
import { needsNats, startNatsServer } from "./nats.ts";

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
