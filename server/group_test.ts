// Groups over real sockets: what a handle of a closed group still does.

import assert from "node:assert/strict";
import { pathRequest, PING, startServer, SUBSCRIBE } from "../testing/mod.ts";
import { ResponseType, Status } from "../wasm/wire.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("A closed group sends nothing, not even to a new group of its name", async () => {
  await using t = await startServer((server) => {
    server.topic("/room/events");
    server.handle("/enter", (ctx) => {
      server.group("room").add(ctx.session);
    });
  });
  const first = await t.connectRaw();
  const second = await t.connectRaw();
  for (const p of [first, second]) {
    await p.call(pathRequest(1, "/room/events", new Uint8Array(), SUBSCRIBE));
  }
  await first.call(pathRequest(2, "/enter", text("in")));
  const old = t.server.group("room");
  old.close();
  assert.throws(() => old.add(t.server.sessions.values().next().value!));
  // The next match gets a new group of the same name.
  await second.call(pathRequest(2, "/enter", text("in")));
  const room = t.server.group("room");
  assert.notEqual(room, old);
  old.broadcast("/room/events", text("stale broadcast"));
  old.multicast("/room/events", text("stale multicast"), [
    ...t.server.sessions.values(),
  ]);
  room.broadcast("/room/events", text("fresh"));
  const got = await second.read();
  assert.deepEqual(
    [got.responseType, new TextDecoder().decode(got.data)],
    [ResponseType.UPDATE, "fresh"],
  );
  const pong = await first.call({ requestId: 3, requestType: PING });
  assert.deepEqual([pong.requestId, pong.responseStatus], [3, Status.OK]);
});
