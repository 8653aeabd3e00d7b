import assert from "node:assert/strict";
import { serveSerial } from "../server/serial.ts";
import { Server } from "../server/server.ts";
import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { waitFor } from "../testing/wait.ts";
import { connect } from "./connect.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

const text = (s: string) => new TextEncoder().encode(s);

needsPty.test("a client on a serial line that reopened it while the server was away is answered once the server is back", async () => {
  await using pair = await startPtyPair();
  const server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.data);
  const options = { quietMs: 30, initialDelay: 10, maxDelay: 100 };
  let watch = serveSerial(server, pair.a, options);
  await using client = await connect(`serial://${pair.b}`, {
    keepalive: { interval: 200, timeout: 200 },
    reconnect: { initial: 20, max: 100 },
  });
  let reconnects = 0;
  client.addEventListener("reconnect", () => reconnects++);
  await client.request("/echo", text("hi"));
  // Nobody serves the other end: keepalive pings go unanswered and the
  // client closes and reopens its end of the line, more than once.
  await watch.close();
  await waitFor(() => reconnects >= 2, {
    timeout: 5000,
    message: "the client to reopen the line twice",
  });
  watch = serveSerial(server, pair.a, options);
  const echo = await client.request("/echo", text("back"), { timeout: 3000 });
  assert.equal(new TextDecoder().decode(echo.data), "back");
  await client.close();
  await server.shutdown();
});
