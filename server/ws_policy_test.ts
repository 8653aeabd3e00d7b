// Origin checks and subprotocol negotiation at the WebSocket endpoint, with
// raw upgrade requests written to a socket and with real WebSockets.

import assert from "node:assert/strict";
import { browserSkipReason, launchChromium } from "../testing/browser.ts";
import { httpHandler } from "./http.ts";
import { Server } from "./server.ts";

/** The status line and headers a raw upgrade request gets. */
async function upgrade(
  port: number,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [
      "GET /nanorpc HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    let text = "";
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    for (;;) {
      const end = text.indexOf("\r\n\r\n");
      const status = Number(text.slice(9, 12));
      // A refusal's body follows its headers; a 101 has none.
      if (end >= 0 && (status === 101 || text.length > end + 4)) break;
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
    const end = text.indexOf("\r\n\r\n");
    const [statusLine, ...rest] = text.slice(0, end).split("\r\n");
    const parsed = new Headers(
      rest.map((line) => {
        const at = line.indexOf(":");
        return [line.slice(0, at), line.slice(at + 1).trim()];
      }),
    );
    return {
      status: Number(statusLine.split(" ")[1]),
      headers: parsed,
      body: text.slice(end + 4),
    };
  } finally {
    conn.close();
  }
}

async function listen(
  options: Parameters<typeof httpHandler>[1] = {},
): Promise<{ server: Server; port: number }> {
  const server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.copyData());
  const listener = await server.listen({ http: { port: 0, ...options } });
  return { server, port: (listener.addr as Deno.NetAddr).port };
}

Deno.test("the WebSocket endpoint refuses an Origin not in origins with 403, and serves listed origins and clients that send none", async () => {
  const { server, port } = await listen({
    origins: ["https://game.example", "http://localhost:8000/"],
  });
  try {
    const evil = await upgrade(port, { Origin: "https://evil.example" });
    assert.equal(evil.status, 403);
    assert.match(evil.body, /Origin https:\/\/evil\.example may not open/);
    assert.equal(
      (await upgrade(port, { Origin: "https://game.example" })).status,
      101,
    );
    assert.equal(
      (await upgrade(port, { Origin: "http://localhost:8000" })).status,
      101,
    );
    // A client that is not a browser may spell a listed origin otherwise.
    assert.equal(
      (await upgrade(port, { Origin: "HTTPS://Game.Example:443/" })).status,
      101,
    );
    // A sandboxed page's origin is the string "null": not listed.
    assert.equal((await upgrade(port, { Origin: "null" })).status, 403);
    assert.equal((await upgrade(port, {})).status, 101);
    assert.equal(server.stats().sessionsOpened, 4);
  } finally {
    await server.shutdown();
  }
});

Deno.test("origins as a function decides every upgrade, and gets null when there is no Origin", async () => {
  const seen: (string | null)[] = [];
  const { server, port } = await listen({
    origins: (origin, request) => {
      seen.push(origin);
      assert.equal(new URL(request.url).pathname, "/nanorpc");
      return origin !== null && origin.endsWith(".game.example");
    },
  });
  try {
    assert.equal(
      (await upgrade(port, { Origin: "https://eu.game.example" })).status,
      101,
    );
    assert.equal((await upgrade(port, {})).status, 403);
    assert.deepEqual(seen, ["https://eu.game.example", null]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the WebSocket endpoint answers a client offering nanorpc with that subprotocol, and a client offering none with none", async () => {
  const { server, port } = await listen();
  try {
    const offered = await upgrade(port, {
      "Sec-WebSocket-Protocol": "chat, nanorpc",
    });
    assert.equal(offered.status, 101);
    assert.equal(offered.headers.get("sec-websocket-protocol"), "nanorpc");
    const none = await upgrade(port, {});
    assert.equal(none.status, 101);
    assert.equal(none.headers.get("sec-websocket-protocol"), null);

    // A real socket offering it opens with it and is served.
    const socket = new WebSocket(`ws://127.0.0.1:${port}/nanorpc`, [
      "nanorpc",
    ]);
    socket.binaryType = "arraybuffer";
    const opened = Promise.withResolvers<void>();
    socket.onopen = () => opened.resolve();
    socket.onerror = () => opened.reject(new Error("the socket failed"));
    await opened.promise;
    assert.equal(socket.protocol, "nanorpc");
    const closed = new Promise((resolve) => socket.onclose = resolve);
    socket.close();
    await closed;
  } finally {
    await server.shutdown();
  }
});

Deno.test("a client offering only subprotocols the endpoint does not speak gets 400 naming the ones it does", async () => {
  const { server, port } = await listen({
    protocols: ["nanorpc.v2", "nanorpc"],
  });
  try {
    const mqtt = await upgrade(port, { "Sec-WebSocket-Protocol": "mqtt" });
    assert.equal(mqtt.status, 400);
    assert.match(
      mqtt.body,
      /speaks the subprotocols nanorpc\.v2, nanorpc; offered: mqtt/,
    );
    // The endpoint's order of preference decides.
    const both = await upgrade(port, {
      "Sec-WebSocket-Protocol": "nanorpc, nanorpc.v2",
    });
    assert.equal(both.headers.get("sec-websocket-protocol"), "nanorpc.v2");
    assert.equal(server.stats().sessionsOpened, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("httpHandler refuses origins that are not scheme://host[:port] and subprotocol names that are not tokens, when built", () => {
  const server = new Server({ logLevel: "error" });
  for (const origin of ["game.example", "https://game.example/lobby", "*"]) {
    assert.throws(
      () => httpHandler(server, { origins: [origin] }),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message.includes(JSON.stringify(origin)) &&
        /scheme:\/\/host\[:port\]/.test(e.message),
    );
  }
  assert.throws(
    () => httpHandler(server, { protocols: ["nano rpc"] }),
    /"nano rpc" is not a WebSocket subprotocol name/,
  );
  // Case and a default port are the browser's spelling, not an error.
  httpHandler(server, { origins: ["HTTPS://Game.Example:443"] });
});

Deno.test({
  name:
    "Chromium opens a socket offering the nanorpc subprotocol, and a page of another origin is refused when origins is set",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    let allowed = "";
    const { server, port } = await listen({
      origins: (origin) => origin === null || origin === allowed,
      routes: {
        "/blank": () =>
          new Response("<!doctype html><title>blank</title>", {
            headers: { "content-type": "text/html" },
          }),
      },
    });
    allowed = `http://127.0.0.1:${port}`;
    await using chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      /** Opens a socket from the page: its protocol, or how it failed. */
      const open = (protocols: string[]) =>
        page.evaluate(([url, protocols]) =>
          new Promise<string>((resolve) => {
            const socket = new WebSocket(url as string, protocols);
            socket.onopen = () => {
              resolve(`open ${socket.protocol}`);
              socket.close();
            };
            socket.onclose = (e) => resolve(`closed ${e.code}`);
          }), [`ws://127.0.0.1:${port}/nanorpc`, protocols] as const);
      await page.goto(`${allowed}/blank`);
      assert.equal(await open(["nanorpc"]), "open nanorpc");
      assert.equal(await open([]), "open ");
      // The browser client offers it when told to, and is served.
      const echoed = await page.evaluate(async (url) => {
        const { connect } = await import("/nanorpc.js" as string);
        const client = await connect(url, { protocols: ["nanorpc"] });
        const { data } = await client.request(
          "/echo",
          new TextEncoder().encode("offered"),
        );
        await client.close();
        return new TextDecoder().decode(data);
      }, `ws://127.0.0.1:${port}/nanorpc`);
      assert.equal(echoed, "offered");
      // Another origin: same server, the name localhost.
      await page.goto(`http://localhost:${port}/blank`);
      assert.equal(await open(["nanorpc"]), "closed 1006");
      await page.close();
    } finally {
      await server.shutdown();
    }
  },
});
