// What the gateway's tests share.

import assert from "node:assert/strict";
import { Room } from "../proto/gen/chat_pb.ts";
import type { Client } from "../client/client.ts";
import type { Server } from "../server/server.ts";
import { waitFor } from "../testing/mod.ts";

/**
 * Opens the demo room's message stream at `base` (an HTTP client that then
 * reads nothing), and publishes 4 MiB into the room with `client` until the
 * stream's session drops updates. Resolves the stream's response.
 */
export async function stalledStream(
  base: string,
  server: Server,
  client: Client,
): Promise<Response> {
  const room = client.service(Room);
  const response = fetch(`${base}/nanorpc_demo.Room/Messages`, {
    method: "POST",
    headers: { "content-type": "application/connect+json" },
    body: new Uint8Array([0, 0, 0, 0, 2, 0x7b, 0x7d]), // one envelope: {}
  });
  await waitFor(() => server.sessions.size === 2, {
    message: "the stream's session",
  });
  // Its headers go out with the first update.
  await room.send({ text: "first" });
  const res = await response;
  assert.equal(res.status, 200);
  const text = "x".repeat(1024);
  for (let i = 0; i < 4096; i++) await room.send({ text });
  await waitFor(() => server.stats().droppedUpdates > 0, {
    message: "updates to be dropped",
  });
  return res;
}
