import assert from "node:assert/strict";
import {
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { concat, FrameSplitter, requestFrame } from "../testing/frames.ts";
import { PING, PONG, REQUEST, RESPONSE } from "../testing/frames.ts";
import { recordingLogger } from "../testing/logger.ts";
import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { waitFor, within } from "../testing/wait.ts";
import {
  openSerial,
  quietGap,
  type SerialStream,
} from "../transport/serial.ts";
import { serveSerial } from "./serial.ts";
import { Server } from "./server.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

const QUIET_MS = 50;
const text = (s: string) => new TextEncoder().encode(s);

/** The far end of the line, speaking through protobuf-es. */
class LinePeer {
  readonly line: SerialStream;
  readonly #frames = new FrameSplitter(NanoRPCResponseSchema);
  readonly #got: NanoRPCResponse[] = [];
  readonly #pump: Promise<void>;

  constructor(line: SerialStream) {
    this.line = line;
    this.#pump = (async () => {
      const buffer = new Uint8Array(4096);
      for (;;) {
        const n = await line.read(buffer);
        if (n === null) return;
        this.#got.push(...this.#frames.push(buffer.subarray(0, n)));
      }
    })().catch(() => {});
  }

  static async open(path: string): Promise<LinePeer> {
    return new LinePeer(await openSerial(path));
  }

  async next(): Promise<NanoRPCResponse> {
    await waitFor(() => this.#got.length > 0, { message: "a response" });
    return this.#got.shift()!;
  }

  /**
   * Pings until the server answers: the server may not have opened its end
   * yet, and bytes sent before that may be lost. Earlier PONGs are skipped.
   */
  async sync(id: number): Promise<void> {
    await waitFor(async () => {
      await this.line.write(requestFrame({ requestId: id, requestType: PING }));
      await waitFor(() => this.#got.some((r) => r.requestId === id), 200)
        .catch(() => {});
      const at = this.#got.findIndex((r) => r.requestId === id);
      if (at < 0) return false;
      this.#got.splice(0, at + 1);
      return true;
    }, { timeout: 10_000, message: "the server to answer on the line" });
  }

  async close(): Promise<void> {
    this.line.close();
    await this.#pump;
  }
}

/** Lets the line stay silent for `ms`: the sender's side of the gap rule. */
function silence(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function newServer() {
  const logger = recordingLogger();
  const server = new Server({ logger, logLevel: "debug" });
  server.handle("/echo", (ctx) => ctx.data);
  return { server, logger };
}

needsPty.test("serveSerial answers requests on a pty as one serial session", async () => {
  await using pair = await startPtyPair();
  const { server } = newServer();
  const watch = serveSerial(server, pair.a, { quietMs: QUIET_MS });
  const peer = await LinePeer.open(pair.b);
  await peer.sync(1);
  await peer.line.write(requestFrame({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: text("over the line"),
  }));
  const echo = await peer.next();
  assert.equal(echo.requestId, 2);
  assert.equal(echo.responseType, RESPONSE);
  assert.equal(new TextDecoder().decode(echo.data), "over the line");
  const [session] = server.sessions.values();
  assert.equal(server.sessions.size, 1);
  assert.equal(session.transport, "serial");
  assert.equal(watch.opens, 1);
  await peer.close();
  await server.shutdown();
  assert.equal(watch.current, undefined);
});

needsPty.test("serveSerial drops a malformed burst, waits for a quiet gap, then answers on the same session", async () => {
  await using pair = await startPtyPair();
  const { server, logger } = newServer();
  serveSerial(server, pair.a, { quietMs: QUIET_MS });
  const peer = await LinePeer.open(pair.b);
  await peer.sync(1);
  // Wire type 7 is malformed; the PING right behind it in the same burst
  // is taken for the bad frame's tail and dropped too.
  await peer.line.write(concat(
    new Uint8Array([6, 8, 5, 16, 1, 0x2f, 0]),
    requestFrame({ requestId: 99, requestType: PING }),
  ));
  await waitFor(() => server.stats().resyncs === 1, { message: "a resync" });
  await silence(QUIET_MS * 3);
  await peer.line.write(requestFrame({ requestId: 2, requestType: PING }));
  await peer.line.write(requestFrame({
    requestId: 3,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: text("after"),
  }));
  const pong = await peer.next();
  assert.equal(pong.requestId, 2, "the PING inside the burst was dropped");
  assert.equal(pong.responseType, PONG);
  assert.equal((await peer.next()).requestId, 3);
  const stats = server.stats();
  assert.equal(stats.resyncs, 1);
  assert.equal(stats.malformedCloses, 0);
  assert.equal(stats.sessionsOpened, 1);
  assert.ok(
    logger.entries.some((e) => /wire type.*resynchronising/i.test(e.text)),
  );
  await peer.close();
  await server.shutdown();
});

needsPty.test("serveSerial drops a frame that a quiet gap cut short", async () => {
  await using pair = await startPtyPair();
  const { server } = newServer();
  serveSerial(server, pair.a, { quietMs: QUIET_MS });
  const peer = await LinePeer.open(pair.b);
  await peer.sync(1);
  const frame = requestFrame({
    requestId: 7,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
    data: new Uint8Array(100),
  });
  await peer.line.write(frame.subarray(0, 40));
  await silence(QUIET_MS * 3);
  await peer.line.write(requestFrame({ requestId: 8, requestType: PING }));
  assert.equal((await peer.next()).requestId, 8);
  assert.equal(server.stats().resyncs, 1);
  await peer.close();
  await server.shutdown();
});

needsPty.test("serveSerial serves the device again after it disappears and comes back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nanorpc_serve_serial_" });
  try {
    const first = await startPtyPair({ dir });
    const { server } = newServer();
    const watch = serveSerial(server, first.a, {
      quietMs: QUIET_MS,
      initialDelay: 10,
      maxDelay: 50,
    });
    let peer = await LinePeer.open(first.b);
    await peer.sync(1);
    await peer.close();
    await first.stop();
    await waitFor(() => server.sessions.size === 0, {
      message: "the session of the vanished device to close",
    });
    await using second = await startPtyPair({ dir });
    peer = await LinePeer.open(second.b);
    await peer.sync(2);
    assert.equal(watch.opens, 2);
    assert.equal(server.stats().sessionsOpened, 2);
    await peer.close();
    await server.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveSerial stops when its signal aborts or the device never appears", async () => {
  const { server } = newServer();
  const abort = new AbortController();
  const watch = serveSerial(server, "/nonexistent/ttyUSB9", {
    signal: abort.signal,
    initialDelay: 5,
  });
  await waitFor(() => watch.failures > 0);
  abort.abort();
  await watch.close();
  assert.equal(watch.opens, 0);
  await server.shutdown();
});

Deno.test("serveSerial is stopped by the server's shutdown while waiting for the device", async () => {
  const { server } = newServer();
  const watch = serveSerial(server, "/nonexistent/ttyUSB9", {
    initialDelay: 5,
  });
  await waitFor(() => watch.failures > 0);
  await server.shutdown();
  await within(watch.close(), { timeout: 2000, message: "the watch to end" });
});

Deno.test("serveSerial refuses a baud rate stty cannot set", () => {
  const { server } = newServer();
  assert.throws(
    () => serveSerial(server, "/dev/null", { baud: 12345 }),
    RangeError,
  );
});

needsPty.test("deno task server --serial answers on a pty and reports resyncs when stopped", async () => {
  await using pair = await startPtyPair();
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  // The task's own permissions: stty must be allowed by them.
  const [, ...flags] = String(config.tasks.server).split(/\s+/);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...flags, `--serial`, `${pair.a}:9600`, "--log-level", "warn"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const peer = await LinePeer.open(pair.b);
  await peer.sync(1);
  await peer.line.write(new Uint8Array([2, 0x0f, 0]));
  await silence(quietGap(9600) * 3);
  await peer.sync(2);
  child.kill("SIGTERM");
  const status = await child.status;
  const [stdout, stderr] = await output;
  await peer.close();
  assert.equal(status.code, 0, stderr);
  assert.match(stdout, new RegExp(`serving serial://${pair.a} at 9600 baud`));
  assert.match(stdout, /served 1 sessions.* 1 resyncs/);
});
