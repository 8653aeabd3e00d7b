// A server socket closed before its upgrade is answered (a session refused
// at once: maxSessions, connectionRateLimit, shutdown) through real
// sockets: Deno forgets that close and opens the socket anyway, so the
// adapter must close it again once it opens.

import assert from "node:assert/strict";
import { within } from "../testing/wait.ts";
import { websocketStream } from "./websocket.ts";

Deno.test("websocketStream close before a server socket opens still closes it, with the code and reason", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      websocketStream(socket).close("refused: too many sessions");
      return response;
    },
  );
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/nanorpc`);
  const event = await within(
    new Promise<CloseEvent>((resolve) => ws.onclose = resolve),
    { timeout: 3000, message: "close of the refused socket" },
  );
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "refused: too many sessions");
});

Deno.test("websocketStream close while a client socket connects ends the attempt without opening", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ws = new WebSocket(`ws://127.0.0.1:${listener.addr.port}/`);
  let opened = false;
  ws.addEventListener("open", () => opened = true);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  websocketStream(ws).close("never mind");
  await within(closed, { timeout: 3000, message: "close of the attempt" });
  assert.equal(opened, false);
  (await listener.accept()).close();
});
