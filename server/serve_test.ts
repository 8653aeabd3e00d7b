// Server.serve over a pair of web streams, as a serial line or a child
// process would be served: no socket, no listener, and for a line, the
// resynchronising policy for malformed frames.

import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import {
  FakeTime,
  FrameSplitter,
  type NanoRPCResponse,
  PING,
  PONG,
  recordingLogger,
  requestFrame,
  waitFor,
  within,
} from "../testing/mod.ts";
import { webStreamPair } from "../transport/web_streams.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import { Server } from "./server.ts";

/** A wire rule breaker: a one-byte frame holding a field of wire type 3. */
const GARBAGE = new Uint8Array([1, 0x0b]);

/** The test's end of a line: bytes written to the server, frames back. */
interface Line {
  /** The server's end. */
  stream: ByteStream;
  /** Bytes sent so far. */
  sent: number;
  send(bytes: Uint8Array): Promise<void>;
  read(): Promise<NanoRPCResponse>;
  end(): Promise<void>;
}

function line(): Line {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  const writer = up.writable.getWriter();
  const reader = down.readable.getReader();
  const frames = new FrameSplitter(NanoRPCResponseSchema);
  const responses: NanoRPCResponse[] = [];
  return {
    stream: webStreamPair(
      { readable: up.readable, writable: down.writable },
      { remoteAddr: { transport: "serial", path: "/dev/ttyTEST0" } },
    ),
    sent: 0,
    send(bytes) {
      this.sent += bytes.length;
      return writer.write(bytes);
    },
    async read() {
      while (responses.length === 0) {
        const { done, value } = await within(reader.read(), {
          message: "a response",
        });
        if (done) throw new Error("The server ended the line");
        responses.push(...frames.push(value));
      }
      return responses.shift()!;
    },
    end: () => writer.close(),
  };
}

const ping = (requestId: number) =>
  requestFrame({ requestId, requestType: PING });

Deno.test("Server.serve answers over a web-stream pair and closes it on a malformed frame by default", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger });
  const opened: string[] = [];
  server.addEventListener("sessionopen", (e) => {
    opened.push(e.session.transport);
  });
  const peer = line();
  const serving = server.serve(peer.stream);
  await peer.send(ping(1));
  const pong = await peer.read();
  assert.deepEqual([pong.requestId, pong.responseType], [1, PONG]);
  assert.deepEqual(opened, ["serial"]);

  await peer.send(GARBAGE);
  await within(serving, { message: "the session to end" });
  const stats = server.stats();
  assert.deepEqual(
    [stats.malformedCloses, stats.resyncs, stats.sessions],
    [1, 0, 0],
  );
  assert.match(logger.at("warn")[0], /serial:\/\/\/dev\/ttyTEST0.*closing/);
  await server.shutdown();
});

Deno.test("Server.serve with resyncQuietMs discards a bad frame's tail until the line is quiet, then answers", async () => {
  using time = new FakeTime();
  const logger = recordingLogger();
  const server = new Server({ logger });
  const peer = line();
  const serving = server.serve(peer.stream, { resyncQuietMs: 50 });
  await peer.send(ping(1));
  assert.equal((await peer.read()).requestId, 1);

  await peer.send(GARBAGE);
  await waitFor(() => server.stats().resyncs === 1, {
    message: "the server to resynchronise",
  });
  // Bytes that come within the quiet gap are the bad frame's tail, however
  // well-formed they look; each restarts the gap.
  for (const id of [2, 3]) {
    await time.tickAsync(49);
    await peer.send(ping(id));
    await waitFor(() => server.stats().bytesIn === peer.sent, {
      message: `the server to read ping ${id}`,
    });
  }
  // The line was quiet for 50 ms: the next frame is served.
  await time.tickAsync(50);
  await peer.send(ping(4));
  const pong = await peer.read();
  assert.deepEqual([pong.requestId, pong.responseType], [4, PONG]);

  const stats = server.stats();
  assert.equal(stats.resyncs, 1);
  assert.equal(stats.malformedCloses, 0);
  assert.equal(stats.sessions, 1, "the session was closed");
  assert.equal(stats.framesIn, 2, "a frame inside the quiet gap was served");
  assert.match(logger.at("warn")[0], /malformed frame.*; resynchronising/);

  await peer.end();
  await within(serving, { message: "the session to end" });
  assert.equal(server.stats().sessions, 0);
  await server.shutdown();
});

/**
 * A custom stream that breaks the way the ByteStream docs ask adapters not
 * to: once `broken`, write throws synchronously; close always throws.
 */
function throwingStream(inner: ByteStream) {
  const state = { broken: false, closes: 0 };
  const stream: ByteStream = {
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
  return { stream, state };
}

Deno.test("Server.serve survives a custom stream whose write throws synchronously and whose close throws", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger });
  server.topic("/t");
  const peer = line();
  const { stream, state } = throwingStream(peer.stream);
  const serving = server.serve(stream);
  await peer.send(requestFrame({
    requestId: 5,
    requestType: 3, // SUBSCRIBE
    pathOneof: { case: "path", value: "/t" },
  }));
  assert.equal((await peer.read()).requestId, 5);
  state.broken = true;
  // The UPDATE is written from a microtask: the throw must end the session,
  // not the process.
  server.publish("/t", new Uint8Array([1]));
  await within(serving, { message: "the session to end" });
  assert.equal(server.stats().sessions, 0);
  assert.ok(state.closes >= 1);
  assert.ok(
    logger.at("warn").some((line) =>
      /closing the stream.*close blew up/.test(line)
    ),
    logger.at("warn").join("\n"),
  );
  await server.shutdown();
});

Deno.test("Server.serve refusing a custom stream whose close throws logs it and goes on", async () => {
  const logger = recordingLogger();
  const server = new Server({ logger, maxSessions: 0 });
  const { stream, state } = throwingStream(line().stream);
  await server.serve(stream);
  assert.equal(state.closes, 1);
  assert.equal(server.stats().sessionsRefused, 1);
  assert.ok(logger.at("warn").some((l) => /close blew up/.test(l)));
  await server.shutdown();
});
