// Metrics over real sockets, read back through the test kit's strict
// Prometheus text parser.

import assert from "node:assert/strict";
import { BroadcastChannelBroker } from "../cluster/broadcast_channel_broker.ts";
import { NotAuthorizedError } from "../protocol/errors.ts";
import {
  concat,
  parsePrometheus,
  REQUEST,
  requestFrame,
  startServer,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";

import { meshed, startNode } from "../cluster/_testing.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { METRICS_CONTENT_TYPE, metricsHandler } from "./metrics.ts";

const text = (s: string) => new TextEncoder().encode(s);
/** A REQUEST frame to `path` with the data "x". */
const frame = (requestId: number, path: string) =>
  requestFrame({
    requestId,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data: text("x"),
  });

Deno.test("Server.metrics counts requests by registered path and status, and times them", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
    server.handle("/secret", () => {
      throw new NotAuthorizedError("Log in first");
    });
    server.handle("/broken", () => {
      throw new Error("bug");
    });
    server.handle("/slow", async () => {
      await new Promise((r) => setTimeout(r, 30));
      return "done";
    });
  });
  const client = await t.client();
  for (let i = 0; i < 5; i++) await client.request("/echo", text("hi"));
  await client.request("/slow");
  await assert.rejects(client.request("/secret"));
  await assert.rejects(client.request("/broken"));
  for (let i = 0; i < 20; i++) {
    await assert.rejects(client.request(`/nowhere/${i}`));
  }
  const m = parsePrometheus(t.server.metrics());
  const count = (path: string, status: string) =>
    m.value("nanorpc_requests_total", { path, status });
  assert.equal(count("/echo", "OK"), 5);
  assert.equal(count("/slow", "OK"), 1);
  assert.equal(count("/secret", "NOT_AUTHORIZED"), 1);
  assert.equal(count("/broken", "INTERNAL_ERROR"), 1);
  assert.equal(count("unregistered", "NOT_FOUND"), 20);
  // Label values stay bounded: unknown paths never become labels.
  const paths = new Set(
    m.samples.filter((s) => s.name === "nanorpc_requests_total")
      .map((s) => s.labels.path),
  );
  assert.deepEqual(
    [...paths].sort(),
    ["/broken", "/echo", "/secret", "/slow", "unregistered"],
  );
  assert.equal(m.types.get("nanorpc_request_duration_seconds"), "histogram");
  const le = (path: string, bound: string) =>
    m.value("nanorpc_request_duration_seconds_bucket", { path, le: bound });
  assert.equal(le("/echo", "+Inf"), 5);
  assert.equal(
    m.value("nanorpc_request_duration_seconds_count", { path: "/echo" }),
    5,
  );
  // The slow handler took at least 30 ms and less than a minute.
  assert.equal(le("/slow", "0.025"), 0);
  assert.equal(le("/slow", "10"), 1);
  const slowSum = m.value("nanorpc_request_duration_seconds_sum", {
    path: "/slow",
  })!;
  assert.ok(slowSum >= 0.029 && slowSum < 60, `sum ${slowSum}`);
  // Buckets are cumulative.
  const buckets = m.samples.filter((s) =>
    s.name === "nanorpc_request_duration_seconds_bucket" &&
    s.labels.path === "/echo"
  );
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i].value >= buckets[i - 1].value);
  }
});

Deno.test("Server.metrics counts and times every request of one pipelined read, sync answers and an async one among them", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
    server.handle("/secret", () => {
      throw new NotAuthorizedError("Log in first");
    });
    server.handle("/slow", async () => {
      await new Promise((r) => setTimeout(r, 30));
      return "done";
    });
  });
  using raw = await t.connectRaw();
  // One write: 16 echoes, a failure, the slow one, 3 more echoes.
  const ids = [...Array(16).keys()].map((i) => frame(i + 1, "/echo"));
  await raw.write(concat(
    ...ids,
    frame(17, "/secret"),
    frame(18, "/slow"),
    frame(19, "/echo"),
    frame(20, "/echo"),
    frame(21, "/echo"),
  ));
  for (let i = 0; i < 21; i++) await raw.read();
  const m = parsePrometheus(t.server.metrics());
  const count = (path: string, status: string) =>
    m.value("nanorpc_requests_total", { path, status });
  assert.equal(count("/echo", "OK"), 19);
  assert.equal(count("/secret", "NOT_AUTHORIZED"), 1);
  assert.equal(count("/slow", "OK"), 1);
  const durations = (path: string) =>
    m.value("nanorpc_request_duration_seconds_count", { path });
  assert.equal(durations("/echo"), 19);
  assert.equal(durations("/secret"), 1);
  assert.equal(durations("/slow"), 1);
  // The slow one is timed on its own; the echoes behind it (a session
  // serves its frames in order) from when the session went on serving.
  const le = (path: string, bound: string) =>
    m.value("nanorpc_request_duration_seconds_bucket", { path, le: bound });
  assert.equal(le("/slow", "0.025"), 0);
  assert.equal(le("/slow", "10"), 1);
  assert.equal(le("/echo", "0.025"), 19);
});

Deno.test("Server.metrics times each session's answers from its own read while another session waits on a slow handler", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
    server.handle("/slow", async () => {
      await new Promise((r) => setTimeout(r, 120));
      return "done";
    });
  });
  using waiting = await t.connectRaw();
  using quick = await t.connectRaw();
  // One read: two echoes, then the slow handler the rest waits behind.
  await waiting.write(
    concat(
      frame(1, "/echo"),
      frame(2, "/echo"),
      frame(3, "/slow"),
      frame(4, "/echo"),
    ),
  );
  await waiting.read();
  await waiting.read();
  // Meanwhile another session's reads are served and flushed.
  for (let i = 0; i < 3; i++) {
    await quick.write(frame(10 + i, "/echo"));
    await quick.read();
  }
  for (let i = 0; i < 2; i++) await waiting.read();
  const m = parsePrometheus(t.server.metrics());
  const echo = { path: "/echo" };
  assert.equal(m.value("nanorpc_requests_total", { ...echo, status: "OK" }), 6);
  assert.equal(m.value("nanorpc_request_duration_seconds_count", echo), 6);
  // Each echo is timed from its own session's read (the one behind the
  // slow handler from when its session went on serving): all under
  // 100 ms, and the slow one over it.
  const under = (path: string) =>
    m.value("nanorpc_request_duration_seconds_bucket", { path, le: "0.1" });
  assert.equal(under("/echo"), 6);
  assert.equal(under("/slow"), 0);
  assert.equal(
    m.value("nanorpc_request_duration_seconds_count", { path: "/slow" }),
    1,
  );
});

Deno.test("Server.metrics reports sessions by transport, subscriptions, updates and bytes", async () => {
  await using t = await startServer((server) => {
    server.topic("/news");
  }, { transports: ["tcp", "unix"] });
  const tcp = await t.connectRaw("tcp");
  const unix = await t.connectRaw("unix");
  for (const [i, raw] of [tcp, unix].entries()) {
    const ack = await raw.call({
      requestId: i + 1,
      requestType: SUBSCRIBE,
      pathOneof: { case: "path", value: "/news" },
    });
    assert.equal(ack.requestId, i + 1);
  }
  t.server.publish("/news", text("extra"));
  for (const raw of [tcp, unix]) {
    assert.equal((await raw.read()).responseType, UPDATE);
  }
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_sessions", { transport: "tcp" }), 1);
  assert.equal(m.value("nanorpc_sessions", { transport: "unix" }), 1);
  assert.equal(m.types.get("nanorpc_sessions"), "gauge");
  assert.equal(m.value("nanorpc_subscriptions"), 2);
  assert.equal(m.value("nanorpc_updates_sent_total"), 2);
  assert.equal(m.value("nanorpc_updates_dropped_total"), 0);
  assert.equal(
    m.value("nanorpc_subscribes_total", { path: "/news", status: "OK" }),
    2,
  );
  assert.ok(m.value("nanorpc_received_bytes_total")! > 0);
  assert.ok(m.value("nanorpc_sent_bytes_total")! > 0);
  assert.ok(m.value("nanorpc_process_resident_memory_bytes")! > 0);
  tcp.close();
  await waitFor(() => t.server.stats().sessions === 1);
  const after = parsePrometheus(t.server.metrics());
  assert.equal(
    after.value("nanorpc_sessions", { transport: "tcp" }),
    undefined,
  );
  assert.equal(after.value("nanorpc_subscriptions"), 1);
});

Deno.test("Server.metrics counts an unsubscribe as a REQUEST answered OK on its topic's path", async () => {
  await using t = await startServer((server) => {
    server.topic("/news");
  });
  const raw = await t.connectRaw();
  const news = { case: "path", value: "/news" } as const;
  await raw.call({ requestId: 1, requestType: SUBSCRIBE, pathOneof: news });
  const ack = await raw.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: news,
  });
  assert.equal(ack.responseStatus, 1);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_subscriptions"), 0);
  assert.equal(
    m.value("nanorpc_requests_total", { path: "/news", status: "OK" }),
    1,
  );
  // Every frame read is answered and counted once.
  const answered = m.samples.filter((s) =>
    s.name === "nanorpc_requests_total" || s.name === "nanorpc_subscribes_total"
  ).reduce((sum, s) => sum + s.value, 0);
  assert.equal(answered, m.value("nanorpc_frames_received_total"));
});

Deno.test("Server.metrics counts malformed frames by the codec's reason", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  });
  const raw = await t.connectRaw();
  // One frame of 2 bytes: field 1 with wire type 7.
  await raw.write(new Uint8Array([2, 0x0f, 0]));
  assert.equal(await raw.closedByServer(), true);
  await waitFor(() => t.server.stats().malformedCloses === 1);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_malformed_closes_total"), 1);
  assert.equal(
    m.value("nanorpc_malformed_frames_total", { reason: "WRONG_WIRE_TYPE" }) ??
      m.value("nanorpc_malformed_frames_total", { reason: "BAD_WIRE_TYPE" }),
    1,
  );
});

Deno.test("Server with metrics off counts no requests and still reports its counters", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  }, { metrics: false });
  const raw = await t.connectRaw();
  await raw.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/echo" },
  });
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_requests_total", { path: "/echo" }), undefined);
  assert.equal(m.value("nanorpc_frames_received_total"), 1);
  assert.equal(m.value("nanorpc_sessions", { transport: "tcp" }), 1);
});

Deno.test("metricsHandler serves the text format over HTTP with its content type", async () => {
  await using t = await startServer((server) => {
    server.handle("/echo", (ctx) => ctx.data);
  });
  const client = await t.client();
  await client.request("/echo");
  const handler = metricsHandler(t.server);
  await using http = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    handler,
  );
  const url = `http://127.0.0.1:${http.addr.port}/metrics`;
  const res = await fetch(url);
  assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
  const m = parsePrometheus(await res.text());
  assert.equal(m.value("nanorpc_requests_total", { path: "/echo" }), 1);
  const post = await fetch(url, { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("metricsHandler of a source whose metrics are a promise answers with them, and 503 when it fails", async () => {
  let fail = false;
  const handler = metricsHandler({
    metrics: () =>
      fail
        ? Promise.reject(new Error("worker 1 is gone"))
        : Promise.resolve("nanorpc_workers 2\n"),
  });
  await using http = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    handler,
  );
  const url = `http://127.0.0.1:${http.addr.port}/metrics`;
  const ok = await fetch(url);
  assert.equal(ok.headers.get("content-type"), METRICS_CONTENT_TYPE);
  assert.equal(await ok.text(), "nanorpc_workers 2\n");
  const head = await fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "18");
  assert.equal(await head.text(), "");
  fail = true;
  const failed = await fetch(url);
  assert.equal(failed.status, 503);
  assert.match(await failed.text(), /worker 1 is gone/);
});

Deno.test("Server.metrics includes the broker's figures when it reports them", async () => {
  const name = `metrics-${crypto.randomUUID()}`;
  await using broker = new BroadcastChannelBroker({ name });
  await using t = await startServer((server) => {
    server.topic("/news");
  }, { broker });
  t.server.publish("/news", text("x"));
  // The broker posts a turn's publishes after the turn.
  await waitFor(() => broker.stats.published === 1);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_broker_published_total"), 1);
  assert.equal(m.value("nanorpc_broker_dropped_total"), 0);
  assert.equal(m.types.get("nanorpc_broker_channels"), "gauge");
});

Deno.test("Server.metrics escapes label values of registered paths", async () => {
  const path = '/odd"path\\with\nbreaks';
  await using t = await startServer((server) => {
    server.handle(path, () => "ok");
  });
  const raw = await t.connectRaw();
  await raw.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
  });
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_requests_total", { path, status: "OK" }), 1);
});

needsNats.test("Server.metrics shows the cluster: NATS link state, forwarded calls, broker figures", async () => {
  await using nats = await startNatsServer();
  await using home = await startNode({ servers: nats.url });
  await using other = await startNode({
    servers: nats.url,
    setup: (s) => s.handle("/far", () => "from afar"),
  });
  await meshed([home, other]);
  const raw = await home.connect();
  await waitFor(async () =>
    (await raw.call({
      requestId: 1,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/far" },
    })).responseStatus === 1
  );
  const m = parsePrometheus(home.server.metrics());
  assert.equal(m.value("nanorpc_forward_connected"), 1);
  assert.ok(m.value("nanorpc_forward_forwarded_total")! >= 1);
  assert.equal(m.types.get("nanorpc_forward_inflight"), "gauge");
  assert.equal(m.value("nanorpc_broker_connected"), 1);
  assert.equal(m.types.get("nanorpc_broker_delivered_total"), "counter");
  const far = parsePrometheus(other.server.metrics());
  assert.ok(far.value("nanorpc_forward_served_total")! >= 1);
});

Deno.test("Server.metrics scraped over HTTP keeps one series per registered path, whatever its characters, and one for every path a peer invents", async () => {
  const paths = ["/cr\rreturn", "/line\u2028separator", "/tab\t\u{1f600} {x}"];
  await using t = await startServer((server) => {
    for (const path of paths) server.handle(path, () => "ok");
  });
  const raw = await t.connectRaw();
  for (const [i, path] of paths.entries()) {
    await raw.write(frame(i + 1, path));
  }
  const invented = 1000;
  for (let i = 0; i < invented; i++) {
    await raw.write(frame(100 + i, `/${crypto.randomUUID()}`));
  }
  for (let i = 0; i < paths.length + invented; i++) await raw.read();
  await using http = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    metricsHandler(t.server),
  );
  const res = await fetch(`http://127.0.0.1:${http.addr.port}/metrics`);
  const m = parsePrometheus(await res.text());
  for (const path of paths) {
    assert.equal(m.value("nanorpc_requests_total", { path, status: "OK" }), 1);
  }
  assert.equal(
    m.value("nanorpc_requests_total", {
      path: "unregistered",
      status: "NOT_FOUND",
    }),
    invented,
  );
  const labelled = new Set(
    m.samples.map((s) => s.labels.path).filter((p) => p !== undefined),
  );
  assert.deepEqual([...labelled].sort(), [...paths, "unregistered"].sort());
});
