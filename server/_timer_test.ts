import assert from "node:assert/strict";
import { PING, REQUEST, startServer } from "../testing/mod.ts";
import { waitFor } from "../testing/wait.ts";
import { MAX_TIMER, timerFor } from "./_timer.ts";

Deno.test("timerFor sets no timer for a delay setTimeout cannot honour, and an ordinary one otherwise", async () => {
  for (const ms of [Infinity, MAX_TIMER, 2 ** 31, 2 ** 40]) {
    assert.equal(timerFor(() => {}, ms), undefined, String(ms));
  }
  const fired = Promise.withResolvers<void>();
  assert.notEqual(timerFor(fired.resolve, 1), undefined);
  await fired.promise;
});

Deno.test("Server with resumeGrace Infinity keeps a dropped session lingering rather than expiring it at once", async () => {
  await using t = await startServer(() => {}, { resumeGrace: Infinity });
  const dropped = await t.connectRaw();
  const session = await dropped.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/session" },
  });
  assert.equal(session.responseStatus, 1);
  dropped.close();
  await waitFor(() => t.server.stats().lingeringSessions === 1, {
    message: "the session to linger",
  });
  // Turns of the event loop and milliseconds pass; a 1 ms timer would fire.
  const other = await t.connectRaw();
  for (let i = 0; i < 50; i++) {
    await other.call({ requestId: 2 + i, requestType: PING });
  }
  const stats = t.server.stats();
  assert.equal(stats.lingeringSessions, 1);
  assert.equal(stats.resumesExpired, 0);
});
