import assert from "node:assert/strict";
import { Server } from "../server/mod.ts";
import { PING, PONG, REQUEST } from "./frames.ts";
import { captureConsole } from "./logger.ts";
import { startServer } from "./server.ts";

const echo = (server: Server) => server.handle("/echo", (ctx) => ctx.data);

Deno.test("startServer listens on TCP and a UNIX socket and hands out clients", async () => {
  await using t = await startServer(echo, { transports: ["tcp", "unix"] });
  assert.equal(t.urls.length, 2);
  assert.match(t.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  assert.match(t.urls[1], /^unix:\/\/.*nanorpc\.sock$/);
  for (const transport of ["tcp", "unix"] as const) {
    const raw = await t.connectRaw(transport);
    const pong = await raw.call({ requestId: 7, requestType: PING });
    assert.equal(pong.responseType, PONG);
    assert.equal(pong.requestId, 7);
  }
  const client = await t.client();
  const { data } = await client.request("/echo", new Uint8Array([3]));
  assert.deepEqual(data, new Uint8Array([3]));
  assert.equal(t.server.stats().sessions, 3);
});

Deno.test("startServer restarts a fresh server on the same addresses", async () => {
  let made = 0;
  await using t = await startServer((server) => {
    made++;
    echo(server);
  }, { transports: ["unix", "tcp"] });
  const { url, tcp, unix } = t;
  const first = t.server;
  await t.restart();
  assert.equal(made, 2);
  assert.notEqual(t.server, first);
  assert.equal(t.url, url);
  assert.equal(t.tcp!.port, tcp!.port);
  assert.equal(t.unix!.path, unix!.path);
  const raw = await t.connectRaw("tcp");
  const reply = await raw.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: new Uint8Array([5]),
  });
  assert.deepEqual(reply.data, new Uint8Array([5]));
});

Deno.test("startServer keeps the server quiet unless given a logger", async () => {
  using logged = captureConsole("error");
  const failing = (server: Server) =>
    server.handle("/fail", () => {
      throw new Error("boom");
    });
  {
    await using t = await startServer(failing);
    await assert.rejects((await t.client()).request("/fail"));
    assert.deepEqual(logged.calls, []);
  }
  await using t = await startServer(failing, { logLevel: "error" });
  await assert.rejects((await t.client()).request("/fail"));
  assert.equal(logged.calls.length, 1);
});

Deno.test("startServer listens with a ready-made Server but refuses options beside it", async () => {
  const server = new Server({ logLevel: "error" });
  await using t = await startServer(server);
  assert.equal(t.server, server);
  await assert.rejects(t.restart(), /cannot restart/);
  await assert.rejects(
    startServer(new Server(), { maxSessions: 1 }),
    TypeError,
  );
});

Deno.test("startServer says which transport to add when a raw client asks for a missing one", async () => {
  await using t = await startServer();
  await assert.rejects(t.connectRaw("unix"), /add it to transports/);
});
