// The gateway under Deno's built-in OpenTelemetry: a call's server span is
// a child of the HTTP request's span, in its trace.

import assert from "node:assert/strict";
import { SPAN_KIND_SERVER, traced } from "../testing/_otel.ts";

const CHILD = `
import { Server } from "${import.meta.resolve("../server/mod.ts")}";
import { connectGateway } from "${import.meta.resolve("./mod.ts")}";
import { Room } from "${import.meta.resolve("../proto/gen/chat_pb.ts")}";

const server = new Server();
server.service(Room, {
  join: () => ({ ok: true }),
  send: () => ({ ok: true }),
});
const gateway = connectGateway(server);
const http = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  gateway.fetch,
);
for (let i = 0; i < 2; i++) {
  const res = await fetch(
    \`http://127.0.0.1:\${http.addr.port}/nanorpc_demo.Room/Send\`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "hi" }),
    },
  );
  console.log("status", res.status, await res.text());
}
await http.shutdown();
await server.shutdown();
`;

Deno.test("connectGateway serves each call in a span that is a child of its HTTP request's", async () => {
  const { spans, out } = await traced(CHILD);
  assert.match(out, /status 200/);
  const calls = spans.filter((s) =>
    s.kind === SPAN_KIND_SERVER && s.name === "/room/send"
  );
  const http = spans.filter((s) =>
    s.kind === SPAN_KIND_SERVER && s.name === "POST"
  );
  assert.equal(
    calls.length,
    2,
    `two call spans among ${JSON.stringify(spans.map((s) => s.name))}`,
  );
  assert.equal(http.length, 2, "two HTTP request spans");
  for (const call of calls) {
    const parent = http.find((s) => s.spanId === call.parentSpanId);
    assert.ok(
      parent,
      `the call span ${call.name} has an HTTP request span as parent`,
    );
    assert.equal(call.traceId, parent.traceId);
  }
  // Each call is a child of its own request, not of the first one.
  assert.notEqual(calls[0].parentSpanId, calls[1].parentSpanId);
});
