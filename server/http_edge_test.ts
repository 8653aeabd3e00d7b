// Edges of the HTTP face through real sockets: WebSocket peers the server
// refuses as soon as their upgrade arrives, and HEAD and revalidating
// requests for the built-in files.

import assert from "node:assert/strict";
import { within } from "../testing/wait.ts";
import type { ServerOptions } from "./options.ts";
import { Server } from "./server.ts";

/** A server on an HTTP listener at port 0, and its WebSocket endpoint. */
async function httpServer(options: ServerOptions = {}) {
  const server = new Server({ logLevel: "error", ...options });
  server.handle("/echo", (ctx) => ctx.data);
  const listener = await server.listen({ http: { port: 0 } });
  return {
    server,
    url: listener.url,
    ws: `${listener.url.replace(/^http/, "ws")}/nanorpc`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Opens a WebSocket; resolves with it and its close event to come. */
async function opened(url: string) {
  const ws = new WebSocket(url);
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener("close", resolve, { once: true })
  );
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  return { ws, closed };
}

Deno.test("server.listen({ http }) closes a WebSocket refused by maxSessions, saying why", async () => {
  await using s = await httpServer({ maxSessions: 1 });
  const first = await opened(s.ws);
  const second = await opened(s.ws);
  const event = await within(second.closed, {
    timeout: 3000,
    message: "close of the refused WebSocket",
  });
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "maxSessions (1) reached");
  assert.equal(s.server.stats().sessionsRefused, 1);
  first.ws.close();
  await first.closed;
});

Deno.test("server.listen({ http }) closes a WebSocket refused by connectionRateLimit, saying why", async () => {
  await using s = await httpServer({
    connectionRateLimit: { perSecond: 0.01, burst: 1 },
  });
  const first = await opened(s.ws);
  const second = await opened(s.ws);
  const event = await within(second.closed, {
    timeout: 3000,
    message: "close of the rate-limited WebSocket",
  });
  assert.match(event.reason, /connectionRateLimit reached/);
  assert.equal(s.server.stats().connectionsRateLimited, 1);
  first.ws.close();
  await first.closed;
});

Deno.test("server.listen({ http }) answers HEAD for a built-in file with the length GET sends", async () => {
  await using s = await httpServer();
  for (const path of ["/nanorpc.js", "/", "/chat.css"]) {
    const get = await fetch(`${s.url}${path}`);
    const body = new Uint8Array(await get.arrayBuffer());
    const head = await fetch(`${s.url}${path}`, { method: "HEAD" });
    await head.body?.cancel();
    assert.equal(head.status, 200);
    assert.equal(
      head.headers.get("content-type"),
      get.headers.get("content-type"),
    );
    assert.equal(head.headers.get("content-length"), String(body.length), path);
  }
});

Deno.test("server.listen({ http }) tags built-in files and answers a revalidation naming the tag with 304", async () => {
  await using s = await httpServer();
  const tags = new Set<string>();
  for (const path of ["/nanorpc.js", "/", "/chat.css"]) {
    const get = await fetch(`${s.url}${path}`);
    await get.body?.cancel();
    const etag = get.headers.get("etag");
    assert.match(etag ?? "", /^"[0-9a-f]{24}"$/, path);
    tags.add(etag!);
    for (const header of [etag!, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await fetch(`${s.url}${path}`, {
        headers: { "if-none-match": header },
      });
      assert.equal(again.status, 304, `${path} ${header}`);
      assert.equal(await again.text(), "");
      assert.equal(again.headers.get("etag"), etag);
    }
    const stale = await fetch(`${s.url}${path}`, {
      headers: { "if-none-match": '"0000"' },
    });
    assert.equal(stale.status, 200);
    assert.ok((await stale.text()).length > 0);
  }
  assert.equal(tags.size, 3);
});
