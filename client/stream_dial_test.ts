// The client over links that are not sockets: a serial line (a pty pair,
// the server on the other end) and a pair of web streams from a dialer.

import assert from "node:assert/strict";
import { Server } from "../server/server.ts";
import { serveSerial } from "../server/serial.ts";
import { silentLogger } from "../testing/logger.ts";
import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { nextEvent, waitFor, within } from "../testing/wait.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import { webStreamPair } from "../transport/web_streams.ts";
import { Client } from "./client.ts";
import { connect } from "./connect.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

const text = (s: string) => new TextEncoder().encode(s);
const read = (b: Uint8Array) => new TextDecoder().decode(b);

function echoServer(): Server {
  const server = new Server({ logger: silentLogger });
  server.handle("/echo", (ctx) => ctx.data);
  server.topic("/news");
  return server;
}

needsPty.test("Client over serial:// talks to a server on the other end of the line", async () => {
  await using pair = await startPtyPair();
  const server = echoServer();
  const watch = serveSerial(server, pair.a, { baud: 9600 });
  await waitFor(() => watch.current !== undefined, {
    message: "the server to open its end",
  });
  const client = await connect(`serial://${pair.b}?baud=9600`, {
    keepalive: false,
  });
  assert.deepEqual(client.address, {
    transport: "serial",
    path: pair.b,
    baud: 9600,
  });
  assert.ok((await client.ping()) >= 0);
  const { data } = await client.request("/echo", text("over the wire"));
  assert.equal(read(data), "over the wire");
  const updates = await client.subscribe("/news");
  server.publish("/news", text("extra"));
  const first = await updates[Symbol.asyncIterator]().next();
  assert.equal(read(first.value as Uint8Array), "extra");
  await client.close();
  await server.shutdown();
});

/** Two pipes joined back to back: what one side writes the other reads. */
function linkedPairs() {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  return {
    client: { readable: down.readable, writable: up.writable },
    server: { readable: up.readable, writable: down.writable },
  };
}

Deno.test("Client over a stream pair calls its dialer again for every reconnection", async () => {
  const server = echoServer();
  const served: Promise<void>[] = [];
  let dials = 0;
  const dial = (signal: AbortSignal): ByteStream => {
    signal.throwIfAborted();
    dials++;
    const { client, server: end } = linkedPairs();
    served.push(server.serve(webStreamPair(end)));
    return webStreamPair(client, { remoteAddr: { transport: "memory" } });
  };
  const client = new Client(dial, {
    keepalive: false,
    reconnect: { initial: 1, max: 10 },
  });
  await client.opened;
  assert.equal(client.address.transport, "stream");
  assert.equal(
    read((await client.request("/echo", text("one"))).data),
    "one",
  );
  const lost = nextEvent(client, "reconnect");
  for (const session of server.sessions.values()) session.close("test");
  await lost;
  assert.equal(dials, 2);
  assert.equal(
    read((await client.request("/echo", text("two"))).data),
    "two",
  );
  await client.close();
  await Promise.all(served);
  assert.equal(server.sessions.size, 0);
  await server.shutdown();
});

Deno.test("connect over a dialer that fails says where it could not connect", async () => {
  await assert.rejects(
    connect(() => Promise.reject(new Error("link is down")), {
      reconnect: false,
    }),
    /Could not connect to stream: link is down/,
  );
});

needsPty.test("deno task call serial:// prints the answer of a server on the other end of the line", async () => {
  await using pair = await startPtyPair();
  const server = echoServer();
  const watch = serveSerial(server, pair.a);
  await waitFor(() => watch.current !== undefined, {
    message: "the server to open its end",
  });
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  // The task's own permissions: the line is bridged through cat and dd.
  const [, ...flags] = String(config.tasks.call).split(/\s+/);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...flags, `serial://${pair.b}`, "/echo", "hi over serial"],
    cwd: new URL("..", import.meta.url),
  }).output();
  assert.equal(code, 0, read(stderr));
  assert.equal(read(stdout), "hi over serial\n");
  await server.shutdown();
});

Deno.test("Client over a custom stream whose write throws synchronously and whose close throws loses the connection, not the process", async () => {
  const server = echoServer();
  const served: Promise<void>[] = [];
  const state = { broken: false, closes: 0 };
  const dial = (): ByteStream => {
    const { client, server: end } = linkedPairs();
    served.push(server.serve(webStreamPair(end)));
    const inner = webStreamPair(client, {
      remoteAddr: { transport: "memory" },
    });
    return {
      transport: inner.transport,
      remoteAddr: inner.remoteAddr,
      read: (buffer) => inner.read(buffer),
      write(data) {
        if (state.broken) throw new Error("stream is broken (thrown)");
        return inner.write(data);
      },
      close(reason) {
        state.closes++;
        inner.close(reason);
        throw new Error("close blew up");
      },
    };
  };
  const client = new Client(dial, { keepalive: false, reconnect: false });
  await client.opened;
  assert.equal(read((await client.request("/echo", text("a"))).data), "a");
  state.broken = true;
  const disconnected = nextEvent(client, "disconnect");
  await assert.rejects(client.request("/echo", text("b")), /stream is broken/);
  await disconnected;
  assert.ok(state.closes >= 1);
  await client.close();
  await server.shutdown();
  await Promise.all(served);
});

Deno.test("connect gives up on a dialer that ignores its signal at the time limit, and closes the stream it brings late", async () => {
  const server = echoServer();
  const served: Promise<void>[] = [];
  const late = Promise.withResolvers<void>();
  let closed = false;
  const dial = async (): Promise<ByteStream> => {
    await late.promise; // Ignores the signal.
    const { client, server: end } = linkedPairs();
    served.push(server.serve(webStreamPair(end)));
    const inner = webStreamPair(client);
    return {
      transport: inner.transport,
      remoteAddr: inner.remoteAddr,
      read: (buffer) => inner.read(buffer),
      write: (data) => inner.write(data),
      close(reason) {
        closed = true;
        inner.close(reason);
      },
    };
  };
  await assert.rejects(
    connect(dial, { connectTimeout: 50, reconnect: false }),
    /Could not connect to stream within 50 ms/,
  );
  late.resolve();
  await waitFor(() => closed, { message: "the late stream to be closed" });
  await Promise.all(served);
  assert.equal(server.sessions.size, 0);
  await server.shutdown();
});

Deno.test("Client close ends a connection attempt whose dialer ignores its signal", async () => {
  const never = Promise.withResolvers<ByteStream>();
  const client = new Client(() => never.promise, { keepalive: false });
  const opened = assert.rejects(client.opened, /Client is closed/);
  await within(client.close(), { message: "close to finish" });
  await opened;
});
