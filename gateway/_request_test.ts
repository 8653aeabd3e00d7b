// What a hostile HTTP client may claim or garble, over real sockets: body
// lengths and frame prefixes not followed by their bytes, timeouts beyond
// the longest timer, and GET messages that are not base64.

import assert from "node:assert/strict";
import process from "node:process";
import { Room } from "../proto/gen/chat_pb.ts";
import { testServices } from "../protocol/_test_utils.ts";
import { registerDemo } from "../server/demo.ts";
import { Server } from "../server/server.ts";
import { startServer, waitFor } from "../testing/mod.ts";
import { connectGateway } from "./connect.ts";

/** The demo room behind a gateway on `Deno.serve`, counting its calls. */
async function start(maxMessageSize?: number) {
  const t = await startServer((server) => registerDemo(server, "all"), {
    maxMessageSize,
  });
  const gateway = connectGateway(t.server, { services: [Room] });
  let entered = 0;
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) => {
      entered++;
      return gateway.fetch(request, info);
    },
  );
  const stop = t[Symbol.asyncDispose].bind(t);
  return Object.assign(t, {
    port: http.addr.port,
    entered: () => entered,
    async [Symbol.asyncDispose]() {
      await http.shutdown();
      await stop();
    },
  });
}

/** A 5-byte envelope prefix: flags 0 and the length it claims. */
function prefix(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(5);
  new DataView(bytes.buffer).setUint32(1, length);
  return bytes;
}

Deno.test("connectGateway allocates nothing for a body length or frame prefix whose bytes were not sent", async () => {
  const max = 4 * 1024 * 1024;
  await using t = await start(max);
  const conns: Deno.Conn[] = [];
  const before = Deno.memoryUsage().external;
  const claims = 30;
  try {
    for (let i = 0; i < claims; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
      conns.push(conn);
      // Unary JSON claiming `max` bytes, and gRPC-Web and Connect streams
      // whose first frame claims `max` bytes; one byte of each is sent.
      const [type, body, length] = [
        ["application/json", new Uint8Array([0x7b]), `content-length: ${max}`],
        [
          "application/grpc-web+proto",
          prefix(max),
          "transfer-encoding: chunked",
        ],
        ["application/connect+json", prefix(max), "transfer-encoding: chunked"],
      ][i % 3] as [string, Uint8Array, string];
      const path = type === "application/connect+json" ? "Messages" : "Send";
      const head = `POST /nanorpc_demo.Room/${path} HTTP/1.1\r\nhost: x\r\n` +
        `content-type: ${type}\r\n${length}\r\n\r\n`;
      const chunked = length.startsWith("transfer");
      await conn.write(new TextEncoder().encode(head));
      if (chunked) await conn.write(new TextEncoder().encode("5\r\n"));
      await conn.write(body);
      if (chunked) await conn.write(new TextEncoder().encode("\r\n"));
    }
    await waitFor(() => t.entered() === claims, { message: "every request" });
    // Time for connect-es to read the first bytes of each.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const grown = Deno.memoryUsage().external - before;
    assert.ok(
      grown < (claims * max) / 4,
      `${grown} bytes allocated for ${claims} claims of ${max}`,
    );
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("connectGateway refuses a timeout over maxTimeoutMs as invalid_argument without arming a timer (no TimeoutOverflowWarning)", async () => {
  await using t = await start();
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on("warning", onWarning);
  try {
    const base = `http://127.0.0.1:${t.port}/nanorpc_demo.Room/Send`;
    const connect = await fetch(base, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-timeout-ms": "9999999999",
      },
      body: "{}",
    });
    assert.equal(connect.status, 400);
    const error = await connect.json();
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /9999999999/);
    const grpcWeb = await fetch(base, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web+proto",
        "grpc-timeout": "99999999H",
      },
      body: prefix(0),
    });
    assert.match(await grpcWeb.text(), /grpc-status: 3\r\n/);
    // Deno emits the warning on the next turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off("warning", onWarning);
  }
  assert.deepEqual(warnings, []);
});

Deno.test("connectGateway answers invalid_argument, not internal, for a GET whose base64 message is malformed", async () => {
  const { getter: Getter } = testServices();
  await using server = new Server({ logLevel: "error" });
  server.service(Getter, { get: (note: unknown) => note } as never);
  const gateway = connectGateway(server, { services: [Getter] });
  const http = await server.listen({
    http: { hostname: "127.0.0.1", port: 0, fallback: gateway.fetch },
  });
  const url =
    `${http.url}/nanorpc_test.Getter/Get?connect=v1&encoding=proto&base64=1`;
  const good = await fetch(`${url}&message=CgJoaQ`); // text: "hi"
  assert.equal(good.status, 200);
  assert.deepEqual(
    new Uint8Array(await good.arrayBuffer()),
    new Uint8Array([10, 2, 104, 105]),
  );
  for (const message of ["!!!", "CgJoa"]) {
    const bad = await fetch(`${url}&message=${message}`);
    assert.equal(bad.status, 400, message);
    assert.equal((await bad.json()).code, "invalid_argument");
  }
});
