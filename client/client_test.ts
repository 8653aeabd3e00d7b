// The client against the real server, over TCP and over a UNIX socket.

import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  type ChatMessage,
  ChatMessageSchema,
} from "../proto/gen/chat_pb.ts";
import type { ServerOptions } from "../server/mod.ts";
import {
  captureConsole,
  FakeTime,
  type Gate,
  startServer,
  type TestTransport,
  waitFor,
} from "../testing/mod.ts";
import { Client } from "./client.ts";
import {
  ClientError,
  ConnectionLostError,
  InternalError,
  NotFoundError,
  TimeoutError,
} from "./errors.ts";
import type { ClientOptions } from "./options.ts";
import { startDemoServer } from "./_fixture_test.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const FAST_RECONNECT: ClientOptions = {
  keepalive: false,
  reconnect: { initial: 10, max: 50 },
};

/** The demo server on `transport` and a client connected to it. */
async function setup(transport: TestTransport, options: ClientOptions = {}) {
  const holds: Gate[] = [];
  // `/hold` requests outlive a 1 ms shutdown: in flight when sessions close.
  const demo = await startDemoServer({
    transports: [transport],
    holds,
    shutdownTimeout: 1,
  });
  const client = await demo.client(options);
  return {
    demo,
    client,
    holds,
    [Symbol.asyncDispose]: () => demo[Symbol.asyncDispose](),
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
    using time = new FakeTime();
    const timedOut = t.client.request("/hold", undefined, { timeout: 10 });
    let settled = false;
    timedOut.catch(() => settled = true);
    await waitFor(() => t.holds.length === 1);
    await time.tickAsync(9);
    assert.equal(settled, false);
    await time.tickAsync(1);
    assert.equal(settled, true);
    await assert.rejects(timedOut, TimeoutError);
    const controller = new AbortController();
    const aborted = t.client.request("/hold", undefined, {
      signal: controller.signal,
    });
    await waitFor(() => t.holds.length === 2);
    controller.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    // Late answers of both land on held ids and are dropped.
    for (const gate of t.holds) gate.open();
    assert.equal(
      dec.decode((await t.client.request("/echo", enc.encode("on"))).data),
      "on",
    );
    assert.equal(t.client.pending, 0);
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
    assert.equal(t.demo.server.stats().sessions, 1);
  });

  Deno.test(`Client subscription gets updates until unsubscribe is acknowledged over ${transport}`, async () => {
    await using t = await setup(transport);
    const subscription = await t.client.subscribe("/ticks");
    assert.equal(t.demo.server.stats().subscriptions, 1);
    for (let i = 0; i < 3; i++) {
      t.demo.server.publish("/ticks", new Uint8Array([i]));
    }
    const got = [];
    const it = subscription[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) got.push((await it.next()).value![0]);
    assert.deepEqual(got, [0, 1, 2]);
    await subscription.unsubscribe();
    assert.equal(subscription.state, "closed");
    assert.equal(t.demo.server.stats().subscriptions, 0);
    t.demo.server.publish("/ticks", new Uint8Array([9]));
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
    const other = await t.demo.client();
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
    await waitFor(() => seen.length === 1);
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
    t.demo.server.publish("/ticks", enc.encode("before"));
    assert.equal(dec.decode((await it.next()).value), "before");

    // In flight when the server goes: held past the shutdown timeout.
    const inFlight = t.client.request("/hold");
    await waitFor(() => t.holds.length === 1);
    const lost = assert.rejects(inFlight, ConnectionLostError);
    await t.demo.stop();
    for (const gate of t.holds) gate.open();
    await lost;
    await waitFor(() => subscription.state === "resubscribing");
    // Made while the server is down: waits for it.
    const queued = t.client.request("/echo", enc.encode("queued"));

    await t.demo.restart();
    assert.equal(dec.decode((await queued).data), "queued");
    await waitFor(() => subscription.state === "active");
    t.demo.server.publish("/ticks", enc.encode("after"));
    assert.equal(dec.decode((await it.next()).value), "after");
    assert.equal(t.demo.server.stats().subscriptions, 1);
    assert.deepEqual(events, ["disconnect", "connect", "reconnect"]);
  });
}

Deno.test("Client waits for a server that starts later with waitForServer", async () => {
  await using demo = await startDemoServer();
  await demo.stop();
  const client = new Client(demo.url, {
    ...FAST_RECONNECT,
    waitForServer: true,
  });
  const answer = client.request("/echo", enc.encode("late"));
  // A first attempt failed: the client backs off and tries again.
  await waitFor(() => client.state === "waiting");
  await demo.restart();
  assert.equal(dec.decode((await answer).data), "late");
  await client.opened;
  await client.close();
});

Deno.test("Client reports connect, disconnect and reconnect listeners that throw to console.error and goes on", async () => {
  using logged = captureConsole("error");
  await using demo = await startDemoServer();
  const client = new Client(demo.url, FAST_RECONNECT);
  const seen: string[] = [];
  client.addEventListener("connect", () => {
    seen.push("connect");
    throw new Error("connect listener broke");
  });
  client.addEventListener(
    "disconnect",
    () => Promise.reject(new Error("async disconnect listener broke")),
  );
  const reconnect = () => {
    seen.push("reconnect");
    throw new Error("reconnect listener broke");
  };
  client.addEventListener("reconnect", reconnect);
  await client.opened;
  await demo.restart();
  await waitFor(() => seen.includes("reconnect"), { message: "the reconnect" });
  client.removeEventListener("reconnect", reconnect);
  assert.equal(
    dec.decode((await client.request("/echo", enc.encode("on"))).data),
    "on",
  );
  await waitFor(() => logged.calls.length >= 4, {
    message: "four errors reported",
  });
  const text = logged.calls.map((call) => call.map(String).join(" ")).join(
    "\n",
  );
  assert.match(text, /a connect listener threw: Error: connect listener broke/);
  assert.match(
    text,
    /a disconnect listener threw: Error: async disconnect listener broke/,
  );
  assert.match(
    text,
    /a reconnect listener threw: Error: reconnect listener broke/,
  );
  await client.close();
});

Deno.test("Client gives up after maxAttempts and closes", async () => {
  await using demo = await startDemoServer();
  const client = await demo.client({
    reconnect: { initial: 1, max: 2, maxAttempts: 3 },
  });
  const subscription = await client.subscribe("/ticks");
  let error: Error | undefined;
  const it = subscription[Symbol.asyncIterator]();
  const ended = it.next().catch((e) => error = e);
  await demo.stop();
  await ended;
  await waitFor(() => client.state === "closed");
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
    await using refusing = await startServer(undefined, options);
    using time = new FakeTime();
    const client = new Client(refusing.url, {
      keepalive: false,
      reconnect: { initial: 10, max: 10_000, jitter: 0 },
    });
    // Every connection ends before a response: none counts as healthy, so
    // each delay doubles, and the client waits all of it before dialling.
    for (const delay of [10, 20, 40, 80, 160]) {
      await waitFor(() => client.state === "waiting");
      await time.tickAsync(delay - 1);
      assert.equal(client.state, "waiting", `dialled before ${delay} ms`);
      await time.tickAsync(1);
      assert.notEqual(client.state, "waiting", `waited past ${delay} ms`);
    }
    await client.close();
  });
}
