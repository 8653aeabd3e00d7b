import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { SUBSCRIBE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { waitFor } from "../testing/wait.ts";
import type { Server, Topic } from "../server/mod.ts";
import { meshed, startNode } from "./_testing.ts";

needsNats.test("NatsForwarder lets go of the old holder's subscription once subscribing again after a NATS outage succeeds", async () => {
  await using nats = await startNatsServer();
  const topics: Topic[] = [];
  const holder = (s: Server) => void topics.push(s.topic("/quiet"));
  // The holders are back well before the home node, so that they hear its
  // releases (a release sent while its node reconnects is lost). Lists of
  // held subscriptions are off: they would release the old key too, and
  // this test is about the release sent once subscribing again succeeded.
  const fast = { reconnectDelay: 20, maxReconnectDelay: 20, auditInterval: 0 };
  const slow = {
    reconnectDelay: 1000,
    maxReconnectDelay: 1000,
    auditInterval: 0,
  };
  await using r1 = await startNode({
    servers: nats.url,
    forward: fast,
    setup: holder,
  });
  await using r2 = await startNode({
    servers: nats.url,
    forward: fast,
    setup: holder,
  });
  await using home = await startNode({ servers: nats.url, forward: slow });
  await meshed([r1, r2, home]);
  const watcher = await home.connect();
  await watcher.send({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/quiet" },
  });
  assert.equal((await watcher.read()).responseStatus, Status.OK);
  const held = () => topics[0].size + topics[1].size;
  assert.equal(held(), 1);
  // Load-balanced: each outage moves it to the other node half the time.
  for (let round = 0; round < 6; round++) {
    const before = home.forward.stats.forwarded;
    await nats.stop();
    await nats.restart();
    await waitFor(
      () =>
        home.forward.stats.forwarded > before &&
        home.forward.stats.inflight === 0,
      { timeout: 15_000, message: "the home node to subscribe again" },
    );
    await waitFor(() => held() === 1, {
      timeout: 3000,
      message: `one node to hold it after outage ${round + 1}, not ${held()}`,
    });
  }
});
