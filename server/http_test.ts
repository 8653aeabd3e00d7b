// The HTTP face through real sockets: `server.listen({ http })` and
// `httpHandler` in a user's `Deno.serve`, spoken to by raw WebSocket peers
// whose frames are made and read with protobuf-es (testing/frames.ts).

import assert from "node:assert/strict";
import {
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import {
  concat,
  FrameSplitter,
  Gate,
  PING,
  PONG,
  REQUEST,
  requestFrame,
  RESPONSE,
  varint,
  waitFor,
} from "../testing/mod.ts";
import type { WebSocketStats } from "../transport/websocket.ts";
import { Status } from "../wasm/wire.ts";
import { httpHandler, websocketHandler } from "./http.ts";
import type { HttpServeOptions } from "./http_listener.ts";
import type { ServerOptions } from "./options.ts";
import { Server } from "./server.ts";

const text = new TextEncoder();

/** A server with `/echo` and `/slow` on an HTTP listener at port 0. */
async function httpServer(
  options: ServerOptions = {},
  http: HttpServeOptions = {},
) {
  const gate = new Gate();
  let slowStarted = false;
  const server = new Server({ logLevel: "error", ...options });
  server.handle("/echo", (ctx) => ctx.data);
  server.handle("/slow", async () => {
    slowStarted = true;
    await gate.opened;
    return text.encode("done");
  });
  const listener = await server.listen({ http: { port: 0, ...http } });
  return {
    server,
    listener,
    gate,
    slowStarted: () => slowStarted,
    url: listener.url,
    ws: `${listener.url.replace(/^http/, "ws")}/nanorpc`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A raw WebSocket peer that decodes what it receives with protobuf-es. */
async function wsPeer(url: string) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const splitter = new FrameSplitter(NanoRPCResponseSchema);
  const responses: NanoRPCResponse[] = [];
  ws.addEventListener("message", (e) => {
    responses.push(...splitter.push(new Uint8Array(e.data as ArrayBuffer)));
  });
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener("close", resolve, { once: true })
  );
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  return {
    ws,
    closed,
    /** Waits for `n` more responses and takes them. */
    async take(n: number): Promise<NanoRPCResponse[]> {
      await waitFor(() => responses.length >= n, {
        message: `${n} responses (have ${responses.length})`,
      });
      return responses.splice(0, n);
    },
  };
}

function echo(id: number, data: string): Uint8Array {
  return requestFrame({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: text.encode(data),
  });
}

Deno.test("server.listen({ http }) answers a frame split across binary messages", async () => {
  await using t = await httpServer();
  assert.equal(t.listener.transport, "http");
  assert.match(t.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const peer = await wsPeer(t.ws);
  const frame = echo(7, "split across three messages");
  peer.ws.send(frame.subarray(0, 1));
  peer.ws.send(frame.subarray(1, 9));
  peer.ws.send(frame.subarray(9));
  const [response] = await peer.take(1);
  assert.equal(response.requestId, 7);
  assert.equal(response.responseType, RESPONSE);
  assert.equal(response.responseStatus, Status.OK);
  assert.equal(
    new TextDecoder().decode(response.data),
    "split across three messages",
  );
  peer.ws.close();
  await peer.closed;
});

Deno.test("server.listen({ http }) answers many frames sent in one message, in order", async () => {
  await using t = await httpServer();
  const peer = await wsPeer(t.ws);
  const frames = [];
  for (let id = 1; id <= 200; id++) frames.push(echo(id, `m${id}`));
  frames.push(requestFrame({ requestId: 201, requestType: PING }));
  // Many frames, and the last one's tail in a message of its own.
  const all = concat(...frames);
  peer.ws.send(all.subarray(0, all.length - 1));
  peer.ws.send(all.subarray(all.length - 1));
  const responses = await peer.take(201);
  assert.deepEqual(
    responses.map((r) => r.requestId),
    Array.from({ length: 201 }, (_, i) => i + 1),
  );
  assert.equal(new TextDecoder().decode(responses[99].data), "m100");
  assert.equal(responses[200].responseType, PONG);
  const session = [...t.server.sessions.values()][0];
  assert.equal(session.transport, "ws");
  assert.equal(session.remoteAddr.hostname, "127.0.0.1");
  assert.ok(session.remoteAddr.port! > 0);
  peer.ws.close();
  await peer.closed;
});

Deno.test("server.listen({ http }) closes a session that sends a text message with 1003 and counts it", async () => {
  const stats: WebSocketStats = { inboundOverflows: 0, textMessages: 0 };
  await using t = await httpServer({}, { stats });
  const peer = await wsPeer(t.ws);
  peer.ws.send("not a frame");
  const close = await peer.closed;
  assert.equal(close.code, 1003);
  assert.match(close.reason, /binary/);
  assert.equal(stats.textMessages, 1);
  await waitFor(() => t.server.sessions.size === 0);
});

Deno.test("server.listen({ http }) closes with 1009 a socket whose unread bytes pass maxMessageSize + 64 KiB (or twice it, if more)", async () => {
  const stats: WebSocketStats = { inboundOverflows: 0, textMessages: 0 };
  await using t = await httpServer({ maxMessageSize: 1024 }, { stats });
  const peer = await wsPeer(t.ws);
  peer.ws.send(new Uint8Array(1024 + 65536 + 1));
  const close = await peer.closed;
  assert.equal(close.code, 1009);
  assert.equal(stats.inboundOverflows, 1);
  await waitFor(() => t.server.sessions.size === 0);
  // 2048 bytes in one message are within the bound, and end up as one
  // malformed frame (its prefix claims more than maxMessageSize).
  const other = await wsPeer(t.ws);
  other.ws.send(concat(varint(2000), new Uint8Array(2046)));
  const closed = await other.closed;
  assert.equal(closed.code, 1000);
  assert.match(closed.reason, /malformed/);
  assert.equal(t.server.stats().malformedCloses, 1);
});

Deno.test("server.listen({ http }) serves the chat page, its files and /nanorpc.js from the package", async () => {
  await using t = await httpServer();
  const page = await fetch(`${t.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.match(await page.text(), /<script type="module" src="\.\/chat\.js">/);
  for (
    const [path, type] of [["/chat.css", /text\/css/], [
      "/chat.js",
      /javascript/,
    ], ["/chat_proto.js", /javascript/]] as const
  ) {
    const res = await fetch(t.url + path);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get("content-type")!, type);
    await res.body?.cancel();
  }
  const client = await fetch(`${t.url}/nanorpc.js`);
  assert.match(client.headers.get("content-type")!, /^text\/javascript/);
  const source = await client.text();
  assert.match(
    source,
    /^\/\/ This file is generated by `deno task build:browser`/,
  );
  assert.doesNotMatch(source, /\bDeno\.\w/);
  const head = await fetch(`${t.url}/nanorpc.js`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  const post = await fetch(`${t.url}/`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const plain = await fetch(`${t.url}/nanorpc`);
  assert.equal(plain.status, 426);
  assert.match(await plain.text(), /WebSocket endpoint/);
  const missing = await fetch(`${t.url}/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("httpHandler mounts in Deno.serve at a path of the user's choosing, with extra routes and a fallback", async () => {
  await using server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.data);
  const handler = httpHandler(server, {
    path: "/rpc",
    demoPage: false,
    routes: { "/health": () => new Response("ok") },
    fallback: () => new Response("teapot", { status: 418 }),
  });
  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  const base = `http://127.0.0.1:${http.addr.port}`;
  assert.equal(await (await fetch(`${base}/health`)).text(), "ok");
  for (const path of ["/", "/nanorpc"]) {
    const res = await fetch(base + path);
    assert.equal(res.status, 418, path);
    await res.body?.cancel();
  }
  const client = await fetch(`${base}/nanorpc.js`);
  assert.equal(client.status, 200);
  await client.body?.cancel();
  const peer = await wsPeer(`ws://127.0.0.1:${http.addr.port}/rpc`);
  peer.ws.send(echo(1, "mounted"));
  const [response] = await peer.take(1);
  assert.equal(new TextDecoder().decode(response.data), "mounted");
  peer.ws.close();
  await peer.closed;
});

Deno.test("websocketHandler upgrades whatever request a user's router gives it", async () => {
  await using server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.data);
  const upgrade = websocketHandler(server);
  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) =>
      new URL(req.url).pathname === "/deep/socket"
        ? upgrade(req, info)
        : new Response("no", { status: 404 }),
  );
  const peer = await wsPeer(`ws://127.0.0.1:${http.addr.port}/deep/socket`);
  peer.ws.send(echo(3, "routed"));
  const [response] = await peer.take(1);
  assert.equal(new TextDecoder().decode(response.data), "routed");
  assert.equal([...server.sessions.values()][0].transport, "ws");
  peer.ws.close();
  await peer.closed;
  await waitFor(() => server.sessions.size === 0);
});

Deno.test("server.shutdown lets a WebSocket session's handler answer, refuses new sockets, then frees the port", async () => {
  await using t = await httpServer();
  const peer = await wsPeer(t.ws);
  peer.ws.send(requestFrame({
    requestId: 9,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/slow" },
  }));
  await waitFor(t.slowStarted, { message: "the slow handler to start" });
  const stopping = t.server.shutdown();
  // The listener no longer upgrades, but the session lives on.
  await waitFor(async () => {
    const res = await fetch(`${t.url}/nanorpc`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    await res.body?.cancel();
    return res.status === 503;
  }, { message: "upgrades to be refused" });
  t.gate.open();
  const [response] = await peer.take(1);
  assert.equal(response.requestId, 9);
  assert.equal(new TextDecoder().decode(response.data), "done");
  const close = await peer.closed;
  assert.equal(close.code, 1000);
  assert.match(close.reason, /shutting down/);
  await stopping;
  const { port } = t.listener.addr as Deno.NetAddr;
  Deno.listen({ hostname: "127.0.0.1", port }).close();
});
