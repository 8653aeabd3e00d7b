// A server that serves plain handlers and topics loads no npm package:
// protobuf-es and @opentelemetry/api are imported dynamically, the first
// time a feature needs them (issue #16: RSS). Checked twice: statically,
// on the module graph `deno info` reports, and at run time, in a child
// process that cannot resolve npm packages at all. Likewise the files the
// HTTP face serves (server/static/) load at the first request for one.

import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { ReflectionResponseSchema } from "../proto/gen/nanorpc_reflection_pb.ts";
import { REFLECTION_PATH } from "../protocol/service.ts";
import { Status } from "../wasm/wire.ts";
import { RawClient, REQUEST, SUBSCRIBE, waitFor } from "../testing/mod.ts";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();

interface Dependency {
  specifier: string;
  code?: { specifier: string };
  isDynamic?: boolean;
}

/** Specifiers a plain server must not evaluate. */
const NPM = /^(npm:|node:|@bufbuild\/|@opentelemetry\/)/;

/** The built-in files the HTTP face serves. */
const STATIC_FILES = /\/server\/static\//;

/**
 * Every module the static (value) imports from `entry` reach that matches
 * `unwanted` (default: an npm or `node:` module), each with the chain of
 * imports that reaches it.
 */
async function reachedFrom(
  entry: string,
  unwanted: RegExp = NPM,
): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, decoder.decode(stderr));
  const graph = JSON.parse(decoder.decode(stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: Dependency[] }[];
  };
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const chains = new Map([[graph.roots[0], [entry]]]);
  const queue = [graph.roots[0]];
  const found: string[] = [];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const chain = chains.get(next)!;
    for (const dep of modules.get(next)?.dependencies ?? []) {
      // Type-only imports have no `code`; dynamic ones load on demand.
      if (!dep.code || dep.isDynamic) continue;
      const target = dep.code.specifier;
      if (unwanted.test(dep.specifier) || unwanted.test(target)) {
        found.push([...chain, dep.specifier].join(" -> "));
      } else if (!chains.has(target)) {
        chains.set(target, [...chain, target.replace(ROOT.href, "")]);
        queue.push(target);
      }
    }
  }
  return found;
}

Deno.test("server/mod.ts and protocol/mod.ts import npm packages only as types or dynamically", async () => {
  assert.deepEqual(await reachedFrom("server/mod.ts"), []);
  assert.deepEqual(await reachedFrom("protocol/mod.ts"), []);
});

Deno.test("server/mod.ts imports the files the HTTP face serves only dynamically", async () => {
  assert.deepEqual(await reachedFrom("server/mod.ts", STATIC_FILES), []);
  assert.deepEqual(await reachedFrom("mod.ts", STATIC_FILES), []);
});

// The client's run-time checks (a --no-npm client, typed calls loading
// protobuf-es) are in client/lazy_imports_test.ts.
Deno.test("client/mod.ts and the root mod.ts import npm packages only as types or dynamically", async () => {
  assert.deepEqual(await reachedFrom("client/mod.ts"), []);
  assert.deepEqual(await reachedFrom("mod.ts"), []);
});

/** Runs `code` in a child from the repository (its import map applies). */
function child(code: string, flags: string[] = []) {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["eval", ...flags, code],
    cwd: ROOT.pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const reading = process.stdout.pipeThrough(new TextDecoderStream())
    .pipeTo(new WritableStream({ write: (text) => void out.push(text) }));
  const stderr = new Response(process.stderr).text();
  return {
    /** The port the child printed as `port <n>`. */
    async port(): Promise<number> {
      await waitFor(() => /port \d+/.test(out.join("")), {
        timeout: 20_000,
        message: "the child to listen",
      });
      return Number(/port (\d+)/.exec(out.join(""))![1]);
    },
    /** Writes a line to its stdin. */
    async say(line: string): Promise<void> {
      const writer = process.stdin.getWriter();
      await writer.write(new TextEncoder().encode(`${line}\n`));
      writer.releaseLock();
    },
    /** Closes its stdin (its signal to stop) and waits for it to exit. */
    async stop(): Promise<{ code: number; stdout: string; stderr: string }> {
      await process.stdin.close();
      const { code } = await process.status;
      await reading;
      return { code, stdout: out.join(""), stderr: await stderr };
    },
  };
}

const SERVE_UNTIL_STDIN_ENDS = `
const listener = await server.listen({ port: 0 });
console.log("port", listener.addr.port);
for await (const _ of Deno.stdin.readable);
await server.shutdown();
`;

const connect = (port: number) =>
  RawClient.connect({ transport: "tcp", hostname: "127.0.0.1", port });

const call = (peer: RawClient, requestId: number, path: string) =>
  peer.call({
    requestId,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
  });

Deno.test("Server serves plain handlers and topics in a process that cannot load npm packages", async () => {
  const server = child(
    `
import { Server } from "./server/mod.ts";
const server = new Server();
server.handle("/echo", (ctx) => ctx.data);
server.topic("/ticks");
server.handle("/tick", () => server.publish("/ticks", new Uint8Array([7])));
${SERVE_UNTIL_STDIN_ENDS}`,
    ["--no-npm"],
  );
  using peer = await connect(await server.port());
  const echo = await peer.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: new Uint8Array([1, 2]),
  });
  assert.equal(echo.responseStatus, Status.OK, echo.responseMessage);
  assert.deepEqual(echo.data, new Uint8Array([1, 2]));
  const ack = await peer.call({
    requestId: 2,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/ticks" },
  });
  assert.equal(ack.responseStatus, Status.OK, ack.responseMessage);
  await peer.send({
    requestId: 3,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/tick" },
  });
  // The UPDATE and /tick's RESPONSE, in either order.
  const update = [await peer.read(), await peer.read()]
    .find((r) => r.requestId === 2);
  assert.deepEqual(update?.data, new Uint8Array([7]));
  const { code, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
});

Deno.test("Server loads protobuf-es on the first reflection request and answers it", async () => {
  const server = child(`
import { Server } from "./server/mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
const server = new Server();
server.handle("/echo", (ctx) => ctx.data);
server.handle("/loaded", () => protobuf() ? "yes" : "no");
${SERVE_UNTIL_STDIN_ENDS}`);
  using peer = await connect(await server.port());
  assert.equal(decoder.decode((await call(peer, 1, "/loaded")).data), "no");
  const answer = await call(peer, 2, REFLECTION_PATH);
  assert.equal(answer.responseStatus, Status.OK, answer.responseMessage);
  const { paths } = fromBinary(ReflectionResponseSchema, answer.data);
  const reflection = paths.find((p) => p.path === REFLECTION_PATH);
  assert.equal(reflection?.inputType, "nanorpc_reflection.ReflectionRequest");
  assert.ok(paths.some((p) => p.path === "/echo"));
  assert.equal(decoder.decode((await call(peer, 3, "/loaded")).data), "yes");
  const { code, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
});

Deno.test("Server.listen waits for the protobuf-es load a typed registration started", async () => {
  const server = child(`
import { Server } from "./server/mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
import { ChatJoinSchema } from "./proto/gen/chat_pb.ts";
const server = new Server();
const before = protobuf() === undefined;
server.handle("/join", { input: ChatJoinSchema }, () => {});
const registered = protobuf() === undefined;
const listener = await server.listen({ port: 0 });
console.log(JSON.stringify({ before, registered, listening: protobuf() !== undefined }));
await server.shutdown();
`);
  const { code, stdout, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), {
    before: true,
    registered: true,
    listening: true,
  });
});

Deno.test("ServiceRegistration.publish right after server.service sends once protobuf-es has loaded, in order", async () => {
  // A publishes what B's service publishes (one broker); B publishes
  // before anything awaited protobuf-es, which only starts loading then.
  const server = child(`
import { InProcessBroker, Server } from "./server/mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
import { Room } from "./proto/gen/chat_pb.ts";
const broker = new InProcessBroker();
const server = new Server({ broker });
server.topic("/room/messages");
const listener = await server.listen({ port: 0 });
console.log("port", listener.addr.port);
const reader = Deno.stdin.readable.getReader();
await reader.read();
const other = new Server({ broker });
const room = other.service(Room, { join() {}, send() {} });
console.log("loaded", protobuf() !== undefined);
room.publish("messages", { from: "ada", text: "first" });
room.publish("messages", { from: "bob", text: "second" });
while (!(await reader.read()).done);
await server.shutdown();
await other.shutdown();
`);
  using peer = await connect(await server.port());
  const ack = await peer.call({
    requestId: 5,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
  });
  assert.equal(ack.responseStatus, Status.OK, ack.responseMessage);
  await server.say("go");
  const texts = [];
  for (const update of [await peer.read(), await peer.read()]) {
    assert.equal(update.requestId, 5);
    texts.push(fromBinary(ChatMessageSchema, update.data).text);
  }
  assert.deepEqual(texts, ["first", "second"]);
  const { code, stdout, stderr } = await server.stop();
  assert.equal(code, 0, stderr);
  assert.match(stdout, /loaded false/);
});
