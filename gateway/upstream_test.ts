// The reverse gateway: NanoRPC clients of our server reach a Connect
// upstream that the test starts (Deno.serve with a connect-es router).

import assert from "node:assert/strict";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  type HandlerContext,
} from "@connectrpc/connect";
import {
  universalServerRequestFromFetch,
  universalServerResponseToFetch,
} from "@connectrpc/connect/protocol";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as http2 from "node:http2";
import { type ChatMessage, Room } from "../proto/gen/chat_pb.ts";
import {
  InternalError,
  NotAuthorizedError,
  NotFoundError,
} from "../protocol/errors.ts";
import { FakeTime, startServer, waitFor } from "../testing/mod.ts";
import { forwardTo, relayUpstream } from "./upstream.ts";

/** A Room in the cloud: a connect-es router on Deno.serve. */
function startUpstream(port = 0) {
  const sent: { text: string; device: string | null }[] = [];
  const listeners = new Set<(m: ChatMessage | undefined) => void>();
  const routes = (router: ConnectRouter) =>
    router.service(Room, {
      join: () => ({}),
      send(msg, ctx: HandlerContext) {
        if (msg.text === "secret") {
          throw new ConnectError("Not for devices", Code.PermissionDenied);
        }
        if (msg.text === "gone") {
          throw new ConnectError("No room", Code.NotFound);
        }
        if (msg.text === "crash") throw new ConnectError("Disk", Code.DataLoss);
        const device = ctx.requestHeader.get("x-device");
        sent.push({ text: msg.text, device });
        const message = { from: device ?? "?", text: msg.text } as ChatMessage;
        for (const listener of listeners) listener(message);
        return {};
      },
      async *messages(_filter, ctx) {
        // `undefined` ends the stream.
        const queue: (ChatMessage | undefined)[] = [];
        let wake = () => {};
        const listener = (m: ChatMessage | undefined) => {
          queue.push(m);
          wake();
        };
        listeners.add(listener);
        ctx.signal.addEventListener("abort", () => wake());
        try {
          while (!ctx.signal.aborted) {
            if (queue.length === 0) {
              await new Promise<void>((r) => wake = r);
              continue;
            }
            const next = queue.shift();
            if (!next) return;
            yield next;
          }
        } finally {
          listeners.delete(listener);
        }
      },
    });
  const router = routes(createConnectRouter());
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const server = Deno.serve({ port, onListen() {} }, async (request) => {
    const handler = handlers.get(new URL(request.url).pathname);
    if (!handler) return new Response("no", { status: 404 });
    const response = await handler(
      universalServerRequestFromFetch(request, {}),
    );
    return universalServerResponseToFetch(response);
  });
  return {
    routes,
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    sent,
    listeners,
    /** Ends open streams (their clients see the end) and stops. */
    async stop() {
      for (const listener of listeners) listener(undefined);
      await server.shutdown();
    },
  };
}

Deno.test("forwardTo forwards a NanoRPC client's calls to a Connect upstream, with headers from the call", async () => {
  const upstream = startUpstream();
  try {
    for (const protocol of ["connect", "grpc-web"] as const) {
      await using t = await startServer((server) => {
        server.service(
          Room,
          forwardTo(upstream.url, Room, {
            protocol,
            headers: (ctx) => ({ "x-device": `${protocol} ${ctx.path}` }),
          }),
        );
      });
      const room = (await t.client()).service(Room);
      const ack = await room.send({ text: `hello over ${protocol}` });
      assert.equal(ack.$typeName, "nanorpc_demo.ChatAck");
      assert.deepEqual(upstream.sent.at(-1), {
        text: `hello over ${protocol}`,
        device: `${protocol} /room/send`,
      });
    }
  } finally {
    await upstream.stop();
  }
});

Deno.test("forwardTo maps the upstream's Connect codes to NanoRPC statuses", async () => {
  const upstream = startUpstream();
  try {
    await using t = await startServer((server) => {
      server.service(Room, forwardTo(upstream.url, Room));
    });
    const room = (await t.client()).service(Room);
    await assert.rejects(room.send({ text: "gone" }), NotFoundError);
    await assert.rejects(room.send({ text: "secret" }), NotAuthorizedError);
    await assert.rejects(
      room.send({ text: "crash" }),
      (error: unknown) => {
        assert.ok(error instanceof InternalError);
        assert.match(error.message, /DataLoss: Disk/);
        return true;
      },
    );
  } finally {
    await upstream.stop();
  }
});

Deno.test("forwardTo answers INTERNAL_ERROR naming the upstream when it cannot be reached", async () => {
  const upstream = startUpstream();
  const url = upstream.url;
  await upstream.stop();
  await using t = await startServer((server) => {
    server.service(Room, forwardTo(url, Room));
  });
  const room = (await t.client()).service(Room);
  await assert.rejects(room.send({ text: "anyone?" }), (error: unknown) => {
    assert.ok(error instanceof InternalError);
    assert.match(
      error.message,
      new RegExp(`Upstream ${url} could not be reached`),
    );
    return true;
  });
});

Deno.test("relayUpstream publishes the upstream's stream to NanoRPC subscribers and reopens it when the upstream comes back", async () => {
  let upstream = startUpstream();
  await using t = await startServer();
  const registration = t.server.service(Room, forwardTo(upstream.url, Room));
  const errors: string[] = [];
  await using relay = relayUpstream(registration, {
    url: upstream.url,
    backoff: { initial: 10, max: 50 },
    onError: (error, method) => errors.push(`${method}: ${Code[error.code]}`),
  });
  const client = await t.client();
  const room = client.service(Room);
  const updates = (await room.messages())[Symbol.asyncIterator]();
  await waitFor(() => upstream.listeners.size === 1, {
    message: "the relay's upstream stream",
  });
  await room.send({ text: "round trip" });
  assert.equal((await updates.next()).value?.text, "round trip");
  assert.equal(relay.relayed, 1);

  const port = upstream.port;
  await upstream.stop();
  await waitFor(() => relay.reopened >= 1, { message: "the stream to end" });
  upstream = startUpstream(port);
  await waitFor(() => upstream.listeners.size === 1, {
    message: "the relay to reopen the stream",
  });
  await room.send({ text: "after the restart" });
  assert.equal((await updates.next()).value?.text, "after the restart");
  assert.ok(errors.length >= 1);
  assert.match(errors[0], /^messages: /);
  await relay.close();
  await waitFor(() => upstream.listeners.size === 0, {
    message: "the upstream stream to end",
  });
  await upstream.stop();
});

Deno.test("forwardTo and relayUpstream speak gRPC over HTTP/2 (h2c) to an upstream on node:http2", async () => {
  const cloud = startUpstream();
  await cloud.stop();
  const h2 = http2.createServer(
    connectNodeAdapter({ routes: cloud.routes }),
  );
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(h2.address() as { port: number }).port}`;
  try {
    await using t = await startServer();
    const registration = t.server.service(
      Room,
      forwardTo(url, Room, {
        protocol: "grpc",
        headers: { "x-device": "grpc" },
      }),
    );
    await using relay = relayUpstream(registration, { url, protocol: "grpc" });
    const room = (await t.client()).service(Room);
    const updates = (await room.messages())[Symbol.asyncIterator]();
    await waitFor(() => cloud.listeners.size === 1, {
      message: "the relay's upstream stream",
    });
    await room.send({ text: "over h2" });
    assert.deepEqual(cloud.sent.at(-1), { text: "over h2", device: "grpc" });
    assert.deepEqual((await updates.next()).value?.text, "over h2");
    await assert.rejects(room.send({ text: "secret" }), NotAuthorizedError);
    await relay.close();
  } finally {
    await new Promise((resolve) => h2.close(resolve));
  }
});

Deno.test("relayUpstream backs off from an upstream whose stream ends at once, empty, as from a failure", async () => {
  const router = createConnectRouter().service(Room, {
    join: () => ({}),
    send: () => ({}),
    async *messages() {}, // ends at once, having sent nothing
  });
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const upstream = Deno.serve({ port: 0, onListen() {} }, async (request) => {
    const handler = handlers.get(new URL(request.url).pathname)!;
    return universalServerResponseToFetch(
      await handler(universalServerRequestFromFetch(request, {})),
    );
  });
  await using t = await startServer();
  const registration = t.server.service(
    Room,
    forwardTo(`http://127.0.0.1:${upstream.addr.port}`, Room),
  );
  using time = new FakeTime();
  const relay = relayUpstream(registration, {
    url: `http://127.0.0.1:${upstream.addr.port}`,
    backoff: { initial: 20, max: 10_000, factor: 2, jitter: 0 },
  });
  try {
    const delays: number[] = [];
    for (let k = 1; k <= 4; k++) {
      await waitFor(
        () => relay.reopened === k && time.nextDelay !== undefined,
        { message: `reopening ${k}` },
      );
      delays.push(time.nextDelay!);
      await time.tickAsync(time.nextDelay!);
    }
    assert.deepEqual(delays, [20, 40, 80, 160]);
  } finally {
    await relay.close();
    await upstream.shutdown();
  }
});
