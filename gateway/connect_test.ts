// The Connect gateway over real sockets: plain fetch (JSON and binary),
// curl, connect-es clients (Connect and gRPC-Web), server streaming, and
// errors — every call checked against what a NanoRPC peer of the same
// server sees.

import assert from "node:assert/strict";
import {
  create,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-web";
import { ChatAckSchema, Room } from "../proto/gen/chat_pb.ts";
import {
  InternalError,
  NotAuthorizedError,
  NotFoundError,
} from "../protocol/errors.ts";
import { testServices } from "../protocol/_test_utils.ts";
import { registerDemo } from "../server/demo.ts";
import { stalledStream } from "./_test_utils.ts";
import type { Server } from "../server/server.ts";
import { recordingLogger, startServer, waitFor } from "../testing/mod.ts";
import { connectGateway, type ConnectGatewayOptions } from "./connect.ts";

/** `nanorpc_test.Note`, built at run time, so untyped. */
interface Note {
  text: string;
}

/** A typed view of a connect-es client of Plain. */
interface PlainClient {
  echo(input: Note): Promise<Note>;
}

/** `nanorpc_test.Plain`: Echo (unary) and Watch (streaming) of a Note. */
const { plain: Plain } = testServices();

/** Echo answers by its text: "missing", "denied" and "boom" fail. */
function registerPlain(server: Server) {
  return server.service(Plain, {
    async echo(input, ctx) {
      const note = input as unknown as Note;
      if (note.text === "slow") {
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve)
        );
        throw new InternalError("The session ended first");
      }
      if (note.text === "missing") throw new NotFoundError("No such note");
      if (note.text === "denied") throw new NotAuthorizedError("Log in first");
      if (note.text === "boom") throw new InternalError("The note exploded");
      return { text: `echo ${note.text}` };
    },
  });
}

/** The demo room and Plain on TCP, and the gateway on an HTTP listener. */
async function start(options: ConnectGatewayOptions = {}) {
  const t = await startServer((server) => {
    registerDemo(server, "all");
    registerPlain(server);
  });
  const gateway = connectGateway(t.server, options);
  const http = await t.server.listen({
    http: { port: 0, fallback: gateway.fetch },
  });
  return Object.assign(t, { base: http.url, gateway });
}

function post(url: string, type: string, body: BodyInit, headers = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": type, ...headers },
    body,
  });
}

/** Subscribes a NanoRPC client to the room; resolves with its messages. */
async function roomWatcher(t: Awaited<ReturnType<typeof start>>) {
  const client = await t.client();
  const sub = await client.service(Room).messages();
  return sub[Symbol.asyncIterator]();
}

Deno.test("connectGateway answers a JSON POST to Room/Send and a NanoRPC subscriber gets the message", async () => {
  await using t = await start();
  const updates = await roomWatcher(t);
  const res = await post(
    `${t.base}/nanorpc_demo.Room/Send`,
    "application/json",
    '{"text":"hi"}',
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), {});
  const { value } = await updates.next();
  assert.equal(value?.text, "hi");
  assert.equal(value?.from, "anonymous");
});

Deno.test("connectGateway answers a binary POST with the handler's binary answer", async () => {
  await using t = await start();
  const res = await post(
    `${t.base}/nanorpc_test.Plain/Echo`,
    "application/proto",
    toBinary(
      Plain.methods[0].input,
      create(Plain.methods[0].input, { text: "bin" } as never),
    ),
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/proto");
  const answer = fromBinary(
    Plain.methods[0].output,
    new Uint8Array(await res.arrayBuffer()),
  );
  assert.equal((answer as unknown as { text: string }).text, "echo bin");
});

Deno.test("connectGateway serves curl run as a process", async () => {
  await using t = await start();
  const updates = await roomWatcher(t);
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "-X",
      "POST",
      `${t.base}/nanorpc_demo.Room/Send`,
      "-H",
      "content-type: application/json",
      "-d",
      '{"text":"from curl"}',
      "-w",
      "\n%{http_code}",
    ],
    stdout: "piped",
  }).output().catch(() => undefined);
  if (!out) {
    console.warn("curl is not installed: skipped");
    return;
  }
  assert.equal(new TextDecoder().decode(out.stdout), "{}\n200");
  assert.equal((await updates.next()).value?.text, "from curl");
});

Deno.test("connectGateway serves connect-es clients over Connect (JSON and binary) and gRPC-Web", async () => {
  await using t = await start();
  const updates = await roomWatcher(t);
  const transports = [
    createConnectTransport({ baseUrl: t.base }),
    createConnectTransport({ baseUrl: t.base, useBinaryFormat: true }),
    createGrpcWebTransport({ baseUrl: t.base }),
  ];
  for (const [i, transport] of transports.entries()) {
    const room = createClient(Room, transport);
    const ack = await room.send({ text: `via ${i}` });
    assert.equal(ack.$typeName, ChatAckSchema.typeName);
    assert.equal((await updates.next()).value?.text, `via ${i}`);
  }
});

Deno.test("connectGateway streams a topic's updates over Connect until the client goes away", async () => {
  await using t = await start();
  const sessions = t.server.sessions;
  const sender = (await t.client()).service(Room);
  for (
    const transport of [
      createConnectTransport({ baseUrl: t.base }),
      createGrpcWebTransport({ baseUrl: t.base, useBinaryFormat: true }),
    ]
  ) {
    const stop = new AbortController();
    const before = sessions.size;
    const stream = createClient(Room, transport).messages({ from: "ada" }, {
      signal: stop.signal,
    });
    const it = stream[Symbol.asyncIterator]();
    const first = it.next();
    await waitFor(() => sessions.size === before + 1, {
      message: "the subscription",
    });
    // The filter is the request: bob's message is not streamed.
    await sender.join({ name: "bob" });
    await sender.send({ text: "not for you" });
    await sender.join({ name: "ada" });
    await sender.send({ text: "one" });
    await sender.send({ text: "two" });
    assert.equal((await first).value?.text, "one");
    assert.equal((await it.next()).value?.text, "two");
    stop.abort();
    await assert.rejects(it.next());
    await waitFor(() => sessions.size === before, {
      message: "the stream's session to end",
    });
  }
});

Deno.test("connectGateway maps NanoRPC statuses to Connect codes", async () => {
  await using t = await start();
  const plain = createClient(
    Plain as DescService,
    createConnectTransport({ baseUrl: t.base }),
  ) as unknown as PlainClient;
  assert.equal((await plain.echo({ text: "x" })).text, "echo x");
  const cases: [string, Code][] = [
    ["missing", Code.NotFound],
    ["denied", Code.PermissionDenied],
    ["boom", Code.Internal],
  ];
  for (const [text, code] of cases) {
    await assert.rejects(plain.echo({ text }), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, code, `${text}: ${error.message}`);
      return true;
    });
  }
  // On the wire: Connect's JSON error body with HTTP 404 for not_found.
  const res = await post(
    `${t.base}/nanorpc_test.Plain/Echo`,
    "application/json",
    '{"text":"missing"}',
  );
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), {
    code: "not_found",
    message: "No such note",
  });
});

Deno.test("connectGateway ends the call's session when the client's timeout passes", async () => {
  await using t = await start();
  const plain = createClient(
    Plain as DescService,
    createConnectTransport({ baseUrl: t.base }),
  ) as unknown as PlainClient & {
    echo(input: Note, options: { timeoutMs: number }): Promise<Note>;
  };
  await assert.rejects(
    plain.echo({ text: "slow" }, { timeoutMs: 50 }),
    (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.DeadlineExceeded, error.message);
      return true;
    },
  );
  await waitFor(
    () =>
      [...t.server.sessions.values()].every((s) => s.transport !== "gateway"),
    { message: "the call's session to end" },
  );
});

Deno.test("connectGateway runs the session hook and middleware as for a NanoRPC peer, each call in a session of its own", async () => {
  await using t = await start({
    session(session, request) {
      const name = request.headers.get("x-name");
      if (!name) throw new NotAuthorizedError("Send x-name");
      session.set("name", name);
    },
  });
  const seen: string[] = [];
  t.server.use((ctx, next) => {
    seen.push(`${ctx.session.transport} ${ctx.path}`);
    return next();
  });
  const updates = await roomWatcher(t);
  const room = createClient(Room, createConnectTransport({ baseUrl: t.base }));
  await room.send({ text: "named" }, { headers: { "x-name": "grace" } });
  const message = (await updates.next()).value;
  assert.equal(message?.from, "grace");
  // Reading reflection (to learn the methods) is a call of its own.
  assert.deepEqual(seen.filter((s) => s.startsWith("gateway")), [
    "gateway /_nanorpc/reflection",
    "gateway /room/send",
  ]);
  await assert.rejects(room.send({ text: "nameless" }), (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.PermissionDenied);
    return true;
  });
  await waitFor(
    () =>
      [...t.server.sessions.values()].every((s) => s.transport !== "gateway"),
    { message: "the gateway's sessions to end" },
  );
});

Deno.test("connectGateway refuses bodies over maxMessageSize and leaves other paths to the fallback", async () => {
  await using t = await start();
  const big = JSON.stringify({ text: "x".repeat(t.server.maxMessageSize) });
  const res = await post(
    `${t.base}/nanorpc_demo.Room/Send`,
    "application/json",
    big,
  );
  assert.equal(res.status, 429);
  assert.equal((await res.json()).code, "resource_exhausted");
  const unknown = await post(
    `${t.base}/nanorpc_demo.Room/Shout`,
    "application/json",
    "{}",
  );
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
  const page = await fetch(`${t.base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
});

Deno.test("connectGateway finds a service registered after its first call, through reflection", async () => {
  await using t = await startServer((server) => registerDemo(server, "room"));
  const gateway = connectGateway(t.server);
  const http = await t.server.listen({
    http: { port: 0, fallback: gateway.fetch },
  });
  assert.deepEqual(
    (await gateway.methods()).map((m) => m.path),
    ["/room/join", "/room/messages", "/room/send"],
  );
  registerPlain(t.server);
  await waitFor(async () => {
    const res = await post(
      `${http.url}/nanorpc_test.Plain/Echo`,
      "application/json",
      '{"text":"late"}',
    );
    const body = await res.text();
    return res.status === 200 && body === '{"text":"echo late"}';
  }, { message: "the late service to be served" });
});

Deno.test("connectGateway serves the services it is given when reflection is off", async () => {
  await using t = await startServer(registerPlain, { reflection: false });
  const gateway = connectGateway(t.server, { services: [Plain] });
  await using http = Deno.serve({ port: 0, onListen() {} }, gateway.fetch);
  const plain = createClient(
    Plain as DescService,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${http.addr.port}` }),
  ) as unknown as PlainClient;
  assert.equal((await plain.echo({ text: "given" })).text, "echo given");
  assert.deepEqual(
    await post(`http://127.0.0.1:${http.addr.port}/`, "text/plain", "").then((
      r,
    ) => r.status),
    404,
  );
});

Deno.test("connectGateway ends a stream with unavailable when the server shuts down", async () => {
  await using t = await start();
  const stream = createClient(Room, createConnectTransport({ baseUrl: t.base }))
    .messages({});
  const it = stream[Symbol.asyncIterator]();
  const first = it.next();
  await waitFor(() => t.server.sessions.size >= 1, {
    message: "the subscription",
  });
  await t.stop();
  await assert.rejects(first, (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Unavailable, error.message);
    return true;
  });
});

Deno.test("connectGateway bounds a stream whose client stops reading by its session's outgoing buffer, counting the drops", async () => {
  await using t = await startServer((server) => registerDemo(server, "room"), {
    outgoingBufferSize: 64 * 1024,
  });
  const gateway = connectGateway(t.server);
  const http = await t.server.listen({
    http: { port: 0, fallback: gateway.fetch },
  });
  // The client reads nothing more while 4 MiB are published.
  const res = await stalledStream(http.url, t.server, await t.client());
  const stream = [...t.server.sessions.values()].find((s) =>
    s.transport === "gateway"
  );
  assert.ok(stream && stream.bufferedAmount <= 64 * 1024);
  await res.body?.cancel();
  await waitFor(() => t.server.sessions.size === 1, {
    message: "the stream's session to end",
  });
});

Deno.test("connectGateway answers unavailable when middleware keeps it from reading reflection", async () => {
  let reads = 0;
  await using t = await startServer((server) => {
    registerDemo(server, "room");
    server.use((ctx, next) => {
      if (ctx.path.startsWith("/_nanorpc/reflection")) reads++;
      if (!ctx.session.get("token")) throw new NotAuthorizedError("Log in");
      return next();
    });
  });
  const logger = recordingLogger();
  const gateway = connectGateway(t.server, { logger });
  await using http = Deno.serve({ port: 0, onListen() {} }, gateway.fetch);
  const base = `http://127.0.0.1:${http.addr.port}`;
  for (let i = 0; i < 10; i++) {
    const res = await post(
      `${base}/nanorpc_demo.Room/Send`,
      "application/json",
      "{}",
    );
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.equal(body.code, "unavailable");
    assert.match(body.message, /\/_nanorpc\/reflection/);
  }
  // A failed read is answered again for a second: not a read per call.
  assert.ok(reads >= 1 && reads < 10, `${reads} reads for 10 calls`);
  assert.ok(logger.at("warn").length < 10);
  // Paths that are no method never wait for reflection.
  const other = await fetch(`${base}/favicon.ico`);
  assert.equal(other.status, 404);
  await other.body?.cancel();
});
