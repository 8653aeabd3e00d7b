// Traces through Deno's built-in OpenTelemetry: a child process runs a
// server and a client with OTEL_DENO=true and exports OTLP/JSON to a
// collector this test runs, which reads the spans back.

import assert from "node:assert/strict";
import { tracingAvailable } from "./_tracing.ts";
import { currentTraceparent, withTraceparent } from "./tracing.ts";
import {
  type OtlpSpan,
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  traced,
} from "../testing/_otel.ts";

const STATUS_ERROR = 2;

const CHILD = `
import { trace } from "@opentelemetry/api";
import { connect } from "${import.meta.resolve("../client/mod.ts")}";
import { currentTraceparent, Server, withTraceparent } from "${
  import.meta.resolve("./mod.ts")
}";

const server = new Server();
server.handle("/echo", (ctx) => ctx.data);
server.handle("/nested", () => {
  trace.getTracer("app").startSpan("inside the handler").end();
  return currentTraceparent() ?? "none";
});
server.handle("/forwarded", () =>
  withTraceparent(
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    () => { trace.getTracer("app").startSpan("joined").end(); return "ok"; },
  ));
const quiet = new Server({ tracing: false });
quiet.handle("/quiet", () => "shh");
const a = await server.listen({ port: 0 });
const b = await quiet.listen({ port: 0 });
const tracer = trace.getTracer("client");
const client = await connect(a.url, { tracer });
await client.request("/echo", new Uint8Array([1]));
const tp = new TextDecoder().decode((await client.request("/nested")).data);
console.log("traceparent", tp);
await client.request("/forwarded");
await client.request("/missing").catch(() => {});
const other = await connect(b.url);
await other.request("/quiet");
await other.close();
await client.close();
await server.shutdown();
await quiet.shutdown();
`;

Deno.test({
  name: "Server and client spans reach an OTLP collector with OTEL_DENO=true",
  async fn() {
    const { spans, out } = await traced(CHILD);
    const attr = (span: OtlpSpan, key: string) =>
      span.attributes?.find((a) => a.key === key)?.value;
    const find = (name: string, kind: number) =>
      spans.find((s) => s.name === name && s.kind === kind);

    const echo = find("/echo", SPAN_KIND_SERVER);
    assert.ok(
      echo,
      `a server span for /echo among ${spans.map((s) => s.name)}`,
    );
    assert.deepEqual(attr(echo, "rpc.system"), { stringValue: "nanorpc" });
    assert.deepEqual(attr(echo, "rpc.nanorpc.status_code"), {
      stringValue: "OK",
    });
    assert.ok(find("/echo", SPAN_KIND_CLIENT), "a client span for /echo");

    // A span started in a handler is a child of the request's span, and
    // currentTraceparent names that span.
    const nested = find("/nested", SPAN_KIND_SERVER)!;
    const inside = spans.find((s) => s.name === "inside the handler")!;
    assert.equal(inside.parentSpanId, nested.spanId);
    assert.equal(inside.traceId, nested.traceId);
    assert.match(
      out,
      new RegExp(`traceparent 00-${nested.traceId}-${nested.spanId}-01`),
    );

    // withTraceparent joins a trace from elsewhere.
    const joined = spans.find((s) => s.name === "joined")!;
    assert.equal(joined.traceId, "0af7651916cd43dd8448eb211c80319c");
    assert.equal(joined.parentSpanId, "b7ad6b7169203331");

    // Misses are not traced (no handler ran); failures are errors.
    const missing = find("/missing", SPAN_KIND_CLIENT)!;
    assert.equal(missing.status?.code, STATUS_ERROR);
    assert.deepEqual(attr(missing, "rpc.nanorpc.status_code"), {
      stringValue: "NOT_FOUND",
    });
    // A server created with tracing: false makes no spans.
    assert.equal(spans.some((s) => s.name === "/quiet"), false);
  },
});

Deno.test("currentTraceparent is undefined and withTraceparent just runs outside any trace", () => {
  assert.equal(currentTraceparent(), undefined);
  assert.equal(withTraceparent("garbage", () => 7), 7);
  assert.equal(withTraceparent(undefined, () => 8), 8);
});

Deno.test("tracingAvailable is false without OpenTelemetry, so servers default to no tracing work", () => {
  // The collector test shows the other side: under OTEL_DENO=true a
  // server made without options traces.
  assert.equal(tracingAvailable(), false);
});

const ROOTS_CHILD = `
import { trace } from "@opentelemetry/api";
import { connect } from "${import.meta.resolve("../client/mod.ts")}";
import { Server } from "${import.meta.resolve("./mod.ts")}";
import { websocketStream } from "${import.meta.resolve("../transport/mod.ts")}";
import { fnv1a } from "${import.meta.resolve("../wasm/wire.ts")}";

// A forwarder standing in for the cluster: the test calls the host itself.
let host;
const forward = {
  async attach(h) { host = h; },
  routesChanged() {},
  call() { return Promise.reject(new Error("no other node")); },
  ops() {}, update() {}, release() {}, push() {},
  async detach() {},
};
const server = new Server({ forward });
server.handle("/echo", (ctx) => ctx.data);
// The application starts the server inside a span of its own ...
const app = trace.getTracer("app");
const { url } = await app.startActiveSpan("startup", async (span) => {
  try {
    return await server.listen({ port: 0, hostname: "127.0.0.1" });
  } finally {
    span.end();
  }
});
// ... and serves NanoRPC on its own WebSocket endpoint, inside the span
// Deno makes for the upgrade request.
await using http = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen() {} },
  (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    server.serve(websocketStream(socket)).catch(() => {});
    return response;
  },
);
const tcp = await connect(url);
await tcp.request("/echo", new Uint8Array([1]));
await tcp.request("/echo", new Uint8Array([2]));
const ws = await connect("ws://127.0.0.1:" + http.addr.port + "/");
await ws.request("/echo", new Uint8Array([3]));
await ws.request("/echo", new Uint8Array([4]));
const answer = await host.serve({
  kind: "request",
  pathHash: fnv1a("/echo"),
  path: "/echo",
  requestId: 5,
  data: new Uint8Array([5]),
  session: {
    node: "other",
    id: 1,
    transport: "tcp",
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    attributes: new Map(),
  },
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
});
console.log("forwarded", answer.status);
await ws.close();
await tcp.close();
await server.shutdown();
`;

Deno.test({
  name:
    "Server spans of requests read from a connection start their own traces, whatever span was active when it was accepted; a forwarded call's joins its traceparent; network.transport is OpenTelemetry's (a WebSocket is tcp), NanoRPC's own is nanorpc.transport",
  async fn() {
    const { spans, out } = await traced(ROOTS_CHILD);
    assert.match(out, /forwarded 1/);
    const served = spans.filter((s) =>
      s.name === "/echo" && s.kind === SPAN_KIND_SERVER
    );
    // A number attribute: intValue or doubleValue, as the exporter likes.
    const id = (s: OtlpSpan) =>
      Number(
        Object.values(
          s.attributes?.find((a) => a.key === "nanorpc.request_id")?.value ??
            {},
        )[0],
      );
    const [forwarded] = served.filter((s) => id(s) === 5);
    assert.equal(forwarded?.traceId, "0af7651916cd43dd8448eb211c80319c");
    assert.equal(forwarded.parentSpanId, "b7ad6b7169203331");
    const read = served.filter((s) => id(s) !== 5);
    assert.equal(read.length, 4, `four spans among ${JSON.stringify(spans)}`);
    for (const span of read) {
      assert.equal(span.parentSpanId || undefined, undefined, span.name);
    }
    assert.equal(new Set(read.map((s) => s.traceId)).size, 4);
    const attr = (span: OtlpSpan, key: string) =>
      span.attributes?.find((a) => a.key === key)?.value.stringValue;
    const seen = read.map((s) => [
      attr(s, "nanorpc.transport"),
      attr(s, "network.transport"),
    ]).sort();
    assert.deepEqual(seen, [
      ["tcp", "tcp"],
      ["tcp", "tcp"],
      ["ws", "tcp"],
      ["ws", "tcp"],
    ]);
  },
});
