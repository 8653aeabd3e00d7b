// The Server's own surface: its session events (listeners that throw are
// logged, not fatal) and its read-only view of the open sessions.

import assert from "node:assert/strict";
import {
  pathRequest,
  PING,
  recordingLogger,
  startServer,
  waitFor,
} from "../testing/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("Server.sessions is a live view that cannot be changed", async () => {
  await using t = await startServer();
  const sessions = t.server.sessions;
  assert.equal(sessions.size, 0);
  const peer = await t.connectRaw();
  await peer.call({ requestId: 1, requestType: PING });
  assert.equal(sessions.size, 1, "the same object sees the new session");
  const [id, session] = [...sessions][0];
  assert.equal(sessions.get(id), session);
  const writable = sessions as unknown as Partial<Map<number, unknown>>;
  assert.equal(writable.delete, undefined);
  assert.equal(writable.clear, undefined);
  assert.equal(writable.set, undefined);
  peer.close();
  await waitFor(() => sessions.size === 0, { message: "the session to end" });
});

Deno.test("Server logs a sessionopen or sessionclose listener that throws, and goes on serving", async () => {
  const logger = recordingLogger();
  const closes: string[] = [];
  const removed = () => closes.push("removed one ran");
  await using t = await startServer((server) => {
    server.addEventListener("sessionopen", () => {
      throw new Error("open listener broke");
    });
    server.addEventListener(
      "sessionclose",
      () => Promise.reject(new Error("async close listener broke")),
    );
    server.addEventListener("sessionclose", {
      handleEvent: () => closes.push("object"),
    });
    server.addEventListener("sessionclose", removed);
    server.removeEventListener("sessionclose", removed);
    server.handle("/echo", (ctx) => ctx.data);
  }, { logger });
  const peer = await t.connectRaw();
  assert.equal(
    str((await peer.call(pathRequest(1, "/echo", text("hi")))).data),
    "hi",
  );
  peer.close();
  await waitFor(() => closes.length > 0, { message: "sessionclose" });
  await waitFor(() => logger.at("error").length === 2, {
    message: "the errors logged",
  });
  assert.deepEqual(closes, ["object"]);
  const errors = logger.at("error").join("\n");
  assert.match(errors, /a sessionopen listener threw: open listener broke/);
  assert.match(
    errors,
    /a sessionclose listener threw: async close listener broke/,
  );
  // The server still serves new sessions.
  const next = await t.connectRaw();
  assert.equal(
    str((await next.call(pathRequest(1, "/echo", text("again")))).data),
    "again",
  );
  next.close();
});
