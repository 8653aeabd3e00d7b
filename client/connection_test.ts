import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { PATH_STRING } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { NanoRPCRequestSchema } from "../proto/gen/nanorpc_pb.ts";
import { Call } from "./_call.ts";
import { encodeBatch } from "./_connection.ts";
import { registerDemo } from "../server/demo.ts";
import { Server } from "../server/server.ts";
import { startServer } from "../testing/server.ts";
import { Client } from "./client.ts";
import { connect } from "./connect.ts";
import { NotConnectedError } from "./errors.ts";

const enc = new TextEncoder();

function call(path: string, data: Uint8Array, id: number): Call {
  const c = new Call(
    {
      type: RequestType.REQUEST,
      pathKind: PATH_STRING,
      pathHash: 0,
      path: enc.encode(path),
      data,
    },
    path,
  );
  c.id = id;
  return c;
}

Deno.test("encodeBatch skips settled calls and lets go of the data it encoded", () => {
  const settled = call("/aborted", new Uint8Array(1000), 1);
  const live = call("/live", new Uint8Array([1, 2, 3]), 2);
  settled.reject(new Error("aborted"));
  settled.promise.catch(() => {});
  const bytes = encodeBatch([settled, live])!;
  // One frame: a one-byte length prefix and that many bytes.
  assert.equal(bytes[0], bytes.length - 1);
  const request = fromBinary(NanoRPCRequestSchema, bytes.subarray(1));
  assert.equal(request.requestId, 2);
  assert.deepEqual(request.pathOneof, { case: "path", value: "/live" });
  assert.deepEqual(request.data, new Uint8Array([1, 2, 3]));
  assert.equal(live.written, true);
  assert.equal(live.data.length, 0);
  assert.equal(settled.written, false);
  assert.equal(encodeBatch([settled]), undefined);
});

/** A TCP peer that accepts and never reads: the client's writes pend. */
function deafServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  return {
    url: `tcp://127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      (await accepted).close();
      listener.close();
    },
  };
}

Deno.test("Client rejects a request at once with NotConnectedError once maxUnsentBytes wait behind a server that does not read", async () => {
  await using server = deafServer();
  const client = await connect(server.url, {
    keepalive: false,
    maxUnsentBytes: 2 << 20,
    timeout: 0,
  });
  const big = new Uint8Array(1000_000);
  const calls: Promise<unknown>[] = [];
  let refused: unknown;
  // The kernel's buffers take the first megabytes; then the write pends
  // and the requests after it queue, up to the bound.
  for (let i = 0; i < 200 && refused === undefined; i++) {
    const call = client.request("/echo", big);
    calls.push(call.catch(() => {}));
    await Promise.race([call, new Promise((r) => setTimeout(r, 0))])
      .catch((error) => refused = error);
  }
  assert.ok(refused instanceof NotConnectedError, `got ${refused}`);
  assert.match((refused as Error).message, /maxUnsentBytes is 2097152/);
  assert.match((refused as Error).message, /server is not reading/);
  assert.equal(client.state, "open", "the connection is kept");
  await client.close();
  await Promise.all(calls);
});

Deno.test("Client lets requests that timed out before they were written leave the unsent queue", async () => {
  await using server = deafServer();
  const client = await connect(server.url, {
    keepalive: false,
    maxUnsentBytes: 2 << 20,
  });
  const big = new Uint8Array(1000_000);
  const waiting: Promise<unknown>[] = [];
  let refused = false;
  for (let i = 0; i < 200 && !refused; i++) {
    const call = client.request("/echo", big, { timeout: 200 });
    waiting.push(call.catch(() => {}));
    await Promise.race([call, new Promise((r) => setTimeout(r, 0))])
      .catch((error) => refused = error instanceof NotConnectedError);
  }
  assert.ok(refused, "the queue filled");
  // Every queued request times out unwritten: the queue empties.
  await Promise.all(waiting);
  const again = client.request("/echo", big, { timeout: 60_000 });
  const settled = await Promise.race([
    again.then(() => "answered", (e) => `rejected: ${e.message}`),
    new Promise((r) => setTimeout(() => r("queued"), 0)),
  ]);
  assert.equal(settled, "queued");
  await client.close();
  await again.catch(() => {});
});

Deno.test("Client sends a burst of requests made in one turn past maxUnsentBytes, since no write waits", async () => {
  await using t = await startServer((server) => registerDemo(server));
  const client = await connect(t.url, {
    keepalive: false,
    maxUnsentBytes: 1 << 20,
  });
  const data = new Uint8Array(8 * 1024);
  // 4 MiB in one turn against a bound of 1 MiB: all answered.
  const results = await Promise.allSettled(
    Array.from({ length: 512 }, () => client.request("/echo", data)),
  );
  assert.deepEqual(
    results.filter((r) => r.status === "rejected").map((r) =>
      (r as PromiseRejectedResult).reason.message
    ),
    [],
  );
  await client.close();
});

Deno.test("Client sends every request it held while disconnected once it reconnects, past maxUnsentBytes", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const client = new Client(`tcp://127.0.0.1:${port}`, {
    keepalive: false,
    waitForServer: true,
    maxUnsentBytes: 1 << 20,
    reconnect: { initial: 20, max: 50, jitter: 0 },
  });
  const data = new Uint8Array(8 * 1024);
  const calls = Array.from(
    { length: 512 },
    () => client.request("/echo", data),
  );
  const server = new Server({ logLevel: "error" });
  registerDemo(server);
  await server.listen({ hostname: "127.0.0.1", port });
  try {
    const results = await Promise.allSettled(calls);
    assert.equal(results.filter((r) => r.status === "rejected").length, 0);
  } finally {
    await client.close();
    await server.shutdown();
  }
});
