// The client against the real server, over TCP and over a UNIX socket.

import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  type ChatMessage,
  ChatMessageSchema,
} from "../proto/gen/chat_pb.ts";
import { Server, type ServerOptions } from "../server/mod.ts";
import { Client, connect } from "./client.ts";
import {
  ClientError,
  ConnectionLostError,
  InternalError,
  NotFoundError,
  TimeoutError,
} from "./errors.ts";
import type { ClientOptions } from "./options.ts";
import { Fixture, type Transport, until } from "./_fixture_test.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const FAST_RECONNECT: ClientOptions = {
  keepalive: false,
  reconnect: { initial: 10, max: 50 },
};

async function setup(transport: Transport, options: ClientOptions = {}) {
  const fixture = await Fixture.start(transport);
  const client = await connect(fixture.url, { keepalive: false, ...options });
  return {
    fixture,
    client,
    async [Symbol.asyncDispose]() {
      await client.close();
      await fixture.dispose();
    },
  };
}

for (const transport of ["tcp", "unix"] as const) {
  Deno.test(`Client requests, calls and pings over ${transport}`, async () => {
    await using t = await setup(transport);
    const { data } = await t.client.request("/echo", enc.encode("héllo"));
    assert.equal(dec.decode(data), "héllo");
    const hashed = await t.client.request("/echo", enc.encode("h"), {
      hash: true,
    });
    assert.equal(dec.decode(hashed.data), "h");
    const empty = await t.client.request("/echo");
    assert.equal(empty.data.length, 0);
    await t.client.call("/room/join", { name: "ada" }, {
      input: ChatJoinSchema,
      output: ChatJoinSchema,
    });
    assert.ok((await t.client.ping()) >= 0);
  });

  Deno.test(`Client rejects unknown paths and failing handlers over ${transport}`, async () => {
    await using t = await setup(transport);
    await assert.rejects(
      t.client.request("/nope"),
      (e: unknown) => e instanceof NotFoundError && e.status === 2,
    );
    await assert.rejects(
      t.client.request("/nope", undefined, { hash: true }),
      NotFoundError,
    );
    await assert.rejects(t.client.subscribe("/nope"), NotFoundError);
    await assert.rejects(t.client.request("/fail"), InternalError);
    // The session goes on.
    assert.equal(
      dec.decode((await t.client.request("/echo", enc.encode("x"))).data),
      "x",
    );
  });

  Deno.test(`Client times out and aborts slow requests over ${transport}`, async () => {
    await using t = await setup(transport);
    const slow = new Uint8Array([100]);
    await assert.rejects(
      t.client.request("/sleep", slow, { timeout: 10 }),
      TimeoutError,
    );
    const controller = new AbortController();
    const aborted = t.client.request("/sleep", slow, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("stop")), 10);
    await assert.rejects(aborted, /stop/);
    // Late answers of both land on held ids and are dropped.
    assert.equal(
      dec.decode((await t.client.request("/sleep", new Uint8Array([1]))).data),
      "slept",
    );
    await until(() => t.client.pending === 0);
  });

  Deno.test(`Client ids wrap around against the server over ${transport}`, async () => {
    await using t = await setup(transport, { initialRequestId: 2147483645 });
    const calls = Array.from(
      { length: 6 },
      (_, i) => t.client.request("/echo", new Uint8Array([i])),
    );
    const responses = await Promise.all(calls);
    assert.deepEqual(responses.map((r) => r.data[0]), [0, 1, 2, 3, 4, 5]);
  });

  Deno.test(`Client pipelines 10,000 concurrent requests on one connection over ${transport}`, async () => {
    await using t = await setup(transport);
    const n = 10_000;
    const calls = [];
    for (let i = 0; i < n; i++) {
      const data = new Uint8Array(4);
      new DataView(data.buffer).setUint32(0, i);
      calls.push(t.client.request("/echo", data, { hash: i % 2 === 0 }));
    }
    const responses = await Promise.all(calls);
    for (let i = 0; i < n; i++) {
      assert.equal(new DataView(responses[i].data.buffer).getUint32(0), i);
    }
    assert.equal(t.fixture.server.stats().sessions, 1);
  });

  Deno.test(`Client subscription gets updates until unsubscribe is acknowledged over ${transport}`, async () => {
    await using t = await setup(transport);
    const subscription = await t.client.subscribe("/ticks");
    assert.equal(t.fixture.server.stats().subscriptions, 1);
    for (let i = 0; i < 3; i++) {
      t.fixture.server.publish("/ticks", new Uint8Array([i]));
    }
    const got = [];
    const it = subscription[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) got.push((await it.next()).value![0]);
    assert.deepEqual(got, [0, 1, 2]);
    await subscription.unsubscribe();
    assert.equal(subscription.state, "closed");
    assert.equal(t.fixture.server.stats().subscriptions, 0);
    t.fixture.server.publish("/ticks", new Uint8Array([9]));
    assert.equal((await it.next()).done, true);
    // The id is free again and the connection still serves requests.
    await t.client.request("/echo");
  });

  Deno.test(`Client typed subscription with a filter over ${transport}`, async () => {
    await using t = await setup(transport);
    const filter = toBinary(
      ChatFilterSchema,
      create(ChatFilterSchema, { from: "ada" }),
    );
    const seen: ChatMessage[] = [];
    const subscription = await t.client.subscribe("/room/messages", filter, {
      output: ChatMessageSchema,
      onUpdate: (message) => seen.push(message),
    });
    await using other = await connect(t.fixture.url, { keepalive: false });
    await other.call("/room/join", { name: "bob" }, {
      input: ChatJoinSchema,
      output: ChatJoinSchema,
    });
    await other.call("/room/send", { text: "from bob" }, {
      input: ChatMessageSchema,
      output: ChatMessageSchema,
    });
    await t.client.call("/room/join", { name: "ada" }, {
      input: ChatJoinSchema,
      output: ChatJoinSchema,
    });
    await t.client.call("/room/send", { text: "from ada" }, {
      input: ChatMessageSchema,
      output: ChatMessageSchema,
    });
    await until(() => seen.length === 1);
    assert.equal(seen[0].from, "ada");
    assert.equal(seen[0].text, "from ada");
    await subscription.unsubscribe();
  });

  Deno.test(`Client survives a server restart under a live subscription and pending requests over ${transport}`, async () => {
    await using t = await setup(transport, FAST_RECONNECT);
    const events: string[] = [];
    for (const type of ["connect", "disconnect", "reconnect"]) {
      t.client.addEventListener(type, () => events.push(type));
    }
    const subscription = await t.client.subscribe("/ticks");
    const it = subscription[Symbol.asyncIterator]();
    t.fixture.server.publish("/ticks", enc.encode("before"));
    assert.equal(dec.decode((await it.next()).value), "before");

    // In flight when the server goes: held past the shutdown timeout.
    const inFlight = t.client.request("/hold");
    await until(() => t.fixture.holds.length === 1);
    const lost = assert.rejects(inFlight, ConnectionLostError);
    await t.fixture.stop();
    await lost;
    await until(() => subscription.state === "resubscribing");
    // Made while the server is down: waits for it.
    const queued = t.client.request("/echo", enc.encode("queued"));

    await t.fixture.restart();
    assert.equal(dec.decode((await queued).data), "queued");
    await until(() => subscription.state === "active");
    t.fixture.server.publish("/ticks", enc.encode("after"));
    assert.equal(dec.decode((await it.next()).value), "after");
    assert.equal(t.fixture.server.stats().subscriptions, 1);
    assert.deepEqual(events, ["disconnect", "connect", "reconnect"]);
  });
}

Deno.test("Client waits for a server that starts later with waitForServer", async () => {
  const fixture = await Fixture.start("tcp");
  const url = fixture.url;
  await fixture.stop();
  const client = new Client(url, { ...FAST_RECONNECT, waitForServer: true });
  const answer = client.request("/echo", enc.encode("late"));
  await new Promise((r) => setTimeout(r, 30));
  await fixture.restart();
  assert.equal(dec.decode((await answer).data), "late");
  await client.opened;
  await client.close();
  await fixture.dispose();
});

Deno.test("Client gives up after maxAttempts and closes", async () => {
  const fixture = await Fixture.start("tcp");
  const client = await connect(fixture.url, {
    keepalive: false,
    reconnect: { initial: 1, max: 2, maxAttempts: 3 },
  });
  const subscription = await client.subscribe("/ticks");
  let error: Error | undefined;
  const it = subscription[Symbol.asyncIterator]();
  const ended = it.next().catch((e) => error = e);
  await fixture.dispose();
  await ended;
  await until(() => client.state === "closed");
  assert.match(error!.message, /Could not connect/);
  await assert.rejects(client.request("/echo"), /Client is closed/);
  await client.close();
});

Deno.test("Client rejects a request over maxRequestSize locally and keeps the connection", async () => {
  await using t = await setup("tcp");
  let disconnects = 0;
  t.client.addEventListener("disconnect", () => disconnects++);
  const results = await Promise.allSettled([
    t.client.request("/echo", new Uint8Array(8)),
    t.client.request("/echo", new Uint8Array(2 * 1024 * 1024)),
    t.client.request("/echo", new Uint8Array(8)),
    t.client.subscribe("/ticks", new Uint8Array(2 * 1024 * 1024)),
  ]);
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
    "rejected",
  ]);
  for (const i of [1, 3]) {
    const reason = (results[i] as PromiseRejectedResult).reason;
    assert.ok(reason instanceof ClientError);
    assert.match(reason.message, /maxRequestSize/);
  }
  assert.equal(disconnects, 0);
  // Up to the limit it goes through: the server's limit is the same.
  const big = new Uint8Array(1024 * 1024 - 64);
  assert.equal((await t.client.request("/echo", big)).data.length, big.length);
});

for (
  const [name, options] of [
    ["maxSessions: 0", { maxSessions: 0 }],
    ["a handshake hook that refuses", { handshake: () => false }],
  ] as [string, ServerOptions][]
) {
  Deno.test(`Client backoff grows against a server with ${name}`, async () => {
    const quiet = () => {};
    const server = new Server({
      ...options,
      logger: { error: quiet, warn: quiet, info: quiet, debug: quiet },
    });
    const listener = await server.listen({ hostname: "127.0.0.1", port: 0 });
    const client = new Client(listener.url, {
      keepalive: false,
      reconnect: { initial: 10, max: 10_000, jitter: 0 },
    });
    let connects = 0;
    client.addEventListener("connect", () => connects++);
    // Growing delays: 10 + 20 + 40 + 80 + 160 ms; without, ~40 attempts.
    await new Promise((r) => setTimeout(r, 400));
    await client.close();
    await server.shutdown();
    assert.ok(connects >= 2 && connects <= 8, `${connects} connections`);
  });
}
