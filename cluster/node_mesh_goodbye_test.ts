import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { recordingLogger } from "../testing/logger.ts";
import { waitFor } from "../testing/wait.ts";
import { encodeHeartbeat } from "./_rpc_codec.ts";
import { meshed, startNode } from "./_testing.ts";

needsNats.test("NatsForwarder logs the goodbye of a node it knew, and none for the goodbyes of nodes it never heard from", async () => {
  await using nats = await startNatsServer();
  const logger = recordingLogger();
  await using home = await startNode({
    servers: nats.url,
    forward: { logger },
  });
  const rogue = await connect({ servers: nats.url });
  try {
    for (let i = 0; i < 200; i++) {
      rogue.publish(
        "nanorpc.nodes",
        encodeHeartbeat({
          node: `ghost-${i}`,
          leaving: true,
          requests: [],
          topics: [],
        }),
      );
    }
    await rogue.flush();
  } finally {
    await rogue.close();
  }
  // Its heartbeats reach the home node after the ghosts' goodbyes.
  const other = await startNode({ servers: nats.url });
  await meshed([home, other]);
  await other.close();
  await waitFor(() => home.forward.nodes().length === 0, {
    message: "the home node to take the other's goodbye in",
  });
  const left = logger.at("info").filter((l) => l.includes("left the cluster"));
  assert.equal(left.length, 1, left.slice(0, 3).join("\n"));
  assert.doesNotMatch(left[0], /ghost/);
});
