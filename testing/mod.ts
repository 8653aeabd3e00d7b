/**
 * The project's shared test kit: never published, imported by tests only.
 *
 * - Waiting: {@link waitFor} polls a condition, {@link within} bounds a
 *   promise, {@link nextEvent} awaits an event; all keep real time.
 * - Time: {@link FakeTime} fakes timers and clocks for timing-dependent
 *   behaviour (timeouts, backoff, keepalive).
 * - Logs: {@link recordingLogger}, {@link silentLogger},
 *   {@link captureConsole}.
 * - Wire: {@link requestFrame}, {@link responseFrame}, {@link FrameSplitter}
 *   and friends, all through protobuf-es rather than the project's codec.
 * - Peers: {@link RawClient} talks to a server by hand; {@link RawServer}
 *   answers a client by hand; {@link clientWithRawServer} connects the two.
 * - Streams: {@link MemoryStream} is a byte stream whose peer is the test,
 *   for code above the byte-stream seam, without sockets.
 * - Servers: {@link startServer} is the one way to start a real server.
 * - TLS: {@link certificates} makes a throwaway CA.
 *
 * @example A request timeout, on fake time, against a real server
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeoutError } from "../client/mod.ts";
 * import { FakeTime, Gate, startServer } from "./mod.ts";
 *
 * const gate = new Gate();
 * await using t = await startServer((server) => {
 *   server.handle("/slow", async () => {
 *     await gate.opened;
 *     return "late";
 *   }, { concurrent: true });
 * });
 * const client = await t.client();
 * using time = new FakeTime();
 * const call = client.request("/slow", undefined, { timeout: 50 });
 * // Watch it before the tick rejects it, or the rejection goes unhandled.
 * const timedOut = assert.rejects(call, TimeoutError);
 * await time.tickAsync(49);
 * await time.tickAsync(1);
 * await timedOut;
 * gate.open();
 * ```
 *
 * @module
 */

export {
  type ClientWithRawServer,
  clientWithRawServer,
  resumingClient,
} from "./client.ts";
export {
  bytesUntilClosed,
  type BytesUntilClosedOptions,
  type Closable,
  closeQuietly,
  writeAll,
} from "./conn.ts";
export { FakeTime, type FakeTimeOptions } from "./fake_time.ts";
export {
  concat,
  decodeFrames,
  FrameSplitter,
  type FrameSplitterOptions,
  type NanoRPCRequest,
  type NanoRPCResponse,
  pathRequest,
  PING,
  PONG,
  REQUEST,
  requestFrame,
  type RequestInit,
  RESPONSE,
  responseFrame,
  type ResponseInit,
  SUBSCRIBE,
  UPDATE,
  varint,
} from "./frames.ts";
export { Gate } from "./gate.ts";
export {
  captureConsole,
  type CapturedConsole,
  type LogEntry,
  type LogLevel,
  type RecordingLogger,
  recordingLogger,
  silentLogger,
  type TestLogger,
} from "./logger.ts";
export { MemoryStream } from "./memory_stream.ts";
export {
  parsePrometheus,
  type PromSample,
  type PromText,
} from "./prometheus.ts";
export { type Proxy, startProxy } from "./proxy.ts";
export { RawClient } from "./raw_client.ts";
export { RawServer, RawSession, SYNC_PATH } from "./raw_server.ts";
export {
  type ServerSetup,
  startServer,
  type StartServerOptions,
  type TestServer,
  type TestTransport,
} from "./server.ts";
export { certificates, hasOpenssl, type TestCertificates } from "./tls.ts";
export {
  nextEvent,
  waitFor,
  type WaitOptions,
  within,
  type WithinOptions,
} from "./wait.ts";
