import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST, SUBSCRIBE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { waitFor } from "../testing/wait.ts";
import { spawnServer, startNode } from "./_testing.ts";

const text = (s: string) => new TextEncoder().encode(s);

needsNats.test("NatsForwarder subscribes again elsewhere when a keyed call finds its holder crashed", async () => {
  await using nats = await startNatsServer();
  // The holder: a process killed without saying goodbye.
  await using crashed = await spawnServer([
    "--nats",
    nats.url,
    "--demo",
    "room",
    "--tcp",
    "127.0.0.1:0",
  ]);
  // The home node would wait a minute before presuming it gone.
  await using home = await startNode({
    servers: nats.url,
    forward: { routeKey: () => "k", nodeTimeout: 60_000 },
  });
  await waitFor(() => home.forward.nodes().length === 1, {
    timeout: 5000,
    message: "the home node to hear from the holder",
  });
  const watcher = await home.connect();
  await watcher.send({
    requestId: 1,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
  });
  assert.equal((await watcher.read()).responseStatus, Status.OK);
  // Another node serves the topic, but not /room/join.
  await using other = await startNode({
    servers: nats.url,
    setup: (s) => void s.topic("/room/messages"),
  });
  await waitFor(() => home.forward.nodes().length === 2, {
    timeout: 5000,
    message: "the home node to hear from the other node",
  });
  const clients = await nats.clients();
  await crashed.kill();
  // NATS takes the crash in when it reads the socket's end; before that a
  // call to the holder would wait for its answer instead of finding none.
  await waitFor(async () => await nats.clients() < clients, {
    timeout: 5000,
    message: "nats-server to notice the crash",
  });
  const caller = await home.connect();
  const join = await caller.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/room/join" },
    data: text("x"),
  });
  assert.equal(join.responseStatus, Status.NOT_FOUND);
  const update = watcher.read(10_000);
  let delivered = false;
  update.finally(() => delivered = true).catch(() => {});
  while (!delivered) {
    other.server.publish("/room/messages", text("still here"));
    await waitFor(() => delivered, 200).catch(() => {});
  }
  assert.equal(new TextDecoder().decode((await update).data), "still here");
});
