// A client that sends bytes loads no npm package: the typed client API
// (typed calls and subscriptions, service clients) imports protobuf-es
// the first time it is used (issue #16: RSS). Each test runs in a child
// process, where nothing has loaded protobuf-es yet; the static check of
// client/mod.ts and mod.ts is in server/lazy_imports_test.ts.

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const decoder = new TextDecoder();

/**
 * Runs `code` in a child from the repository (its import map applies) and
 * returns what it printed last, parsed as JSON.
 */
async function run(code: string, flags: string[] = []): Promise<unknown> {
  const { code: status, stdout, stderr } = await new Deno.Command(
    Deno.execPath(),
    {
      args: ["eval", ...flags, code],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    },
  ).output();
  assert.equal(status, 0, decoder.decode(stderr));
  const lines = decoder.decode(stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

/** A server on a free port and a client connected to it, in the child. */
const SERVER_AND_CLIENT = `
const server = new Server();
server.handle("/echo", (ctx) => ctx.data);
const topicSeen = [];
server.topic("/ticks", {
  filter: () => true,
  decodeFilter: (bytes) => {
    topicSeen.push({ loaded: protobuf() !== undefined, filter: [...bytes] });
    return bytes;
  },
});
const listener = await server.listen({ port: 0 });
const address = "tcp://127.0.0.1:" + listener.addr.port;
const client = await connect(address);
`;

/** The bytes of ChatMessage { from: "ada", text: "hi" }. */
const ADA_SAYS_HI = "[10, 3, 97, 100, 97, 18, 2, 104, 105]";

Deno.test("Client makes a plain call, ping and subscription, imported from mod.ts, in a process that cannot load npm packages", async () => {
  const result = await run(
    `
import { connect, Server } from "./mod.ts";
const protobuf = () => undefined;
${SERVER_AND_CLIENT}
const { data } = await client.request("/echo", new Uint8Array([1, 2]));
const rtt = await client.ping();
const ticks = await client.subscribe("/ticks");
server.publish("/ticks", new Uint8Array([7]));
const { value: update } = await ticks[Symbol.asyncIterator]().next();
await ticks.unsubscribe();
await client.close();
await server.shutdown();
console.log(JSON.stringify({
  echo: [...data],
  pinged: rtt >= 0,
  update: [...update],
}));
`,
    ["--no-npm"],
  );
  assert.deepEqual(result, { echo: [1, 2], pinged: true, update: [7] });
});

Deno.test("Client.call loads protobuf-es on the first typed call and decodes the answer with it", async () => {
  const result = await run(`
import { connect, Server } from "./mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
import { ChatJoinSchema } from "./proto/gen/chat_pb.ts";
${SERVER_AND_CLIENT}
await client.request("/echo");
const before = protobuf() === undefined;
const schemas = { input: ChatJoinSchema, output: ChatJoinSchema };
const answer = await client.call("/echo", { name: "ada" }, schemas);
const loaded = protobuf() !== undefined;
await client.close();
await server.shutdown();
console.log(JSON.stringify({ before, loaded, name: answer.name }));
`);
  assert.deepEqual(result, { before: true, loaded: true, name: "ada" });
});

Deno.test("Client.subscribe with an output schema sends SUBSCRIBE once protobuf-es has loaded and decodes the updates", async () => {
  const result = await run(`
import { connect, Server } from "./mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
import { ChatMessageSchema } from "./proto/gen/chat_pb.ts";
${SERVER_AND_CLIENT}
const before = protobuf() === undefined;
const sub = await client.subscribe("/ticks", new Uint8Array([1]), {
  output: ChatMessageSchema,
});
server.publish("/ticks", new Uint8Array(${ADA_SAYS_HI}));
const { value } = await sub[Symbol.asyncIterator]().next();
await client.close();
await server.shutdown();
console.log(JSON.stringify({ before, topicSeen, from: value.from, text: value.text }));
`);
  assert.deepEqual(result, {
    before: true,
    topicSeen: [{ loaded: true, filter: [1] }],
    from: "ada",
    text: "hi",
  });
});

Deno.test("Client.subscribe with an output schema rejects without subscribing when aborted or closed while protobuf-es loads", async () => {
  const result = await run(`
import { ConnectionClosedError, connect, Server } from "./mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
import { ChatMessageSchema } from "./proto/gen/chat_pb.ts";
${SERVER_AND_CLIENT}
const other = await connect(address);
const controller = new AbortController();
const output = ChatMessageSchema;
const filter = new Uint8Array([1]);
const aborted = client.subscribe("/ticks", filter, { output, signal: controller.signal });
const closed = other.subscribe("/ticks", filter, { output });
const before = protobuf() === undefined;
controller.abort(new Error("stop"));
await other.close();
const abortReason = await aborted.then(() => "subscribed", (e) => e.message);
const closedError = await closed.then(() => "subscribed", (e) => e instanceof ConnectionClosedError);
await client.request("/echo");
await client.close();
await server.shutdown();
console.log(JSON.stringify({ before, abortReason, closedError, topicSeen }));
`);
  assert.deepEqual(result, {
    before: true,
    abortReason: "stop",
    closedError: true,
    topicSeen: [],
  });
});

Deno.test("Client.service starts loading protobuf-es, and its methods wait for it on first use", async () => {
  const result = await run(`
import { connect, Server } from "./mod.ts";
import { protobuf } from "./protocol/_protobuf.ts";
import { Room } from "./proto/gen/chat_pb.ts";
${SERVER_AND_CLIENT}
server.handle("/room/join", () => new Uint8Array(0));
server.topic("/room/messages", {
  filter: () => true,
  decodeFilter: (bytes) => {
    topicSeen.push({ loaded: protobuf() !== undefined, filter: [...bytes] });
    return bytes;
  },
});
const room = client.service(Room);
const before = protobuf() === undefined;
const messages = await room.messages({ from: "ada" });
const ack = await room.join({ name: "ada" });
server.publish("/room/messages", new Uint8Array(${ADA_SAYS_HI}));
const { value } = await messages[Symbol.asyncIterator]().next();
await client.close();
await server.shutdown();
console.log(JSON.stringify({ before, topicSeen, ack: ack.$typeName, text: value.text }));
`);
  assert.deepEqual(result, {
    before: true,
    topicSeen: [{ loaded: true, filter: [10, 3, 97, 100, 97] }],
    ack: "nanorpc_demo.ChatAck",
    text: "hi",
  });
});
