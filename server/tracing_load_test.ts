// currentTraceparent without a traced server: the first call under a
// registered OpenTelemetry API starts loading it, later calls see spans.

import assert from "node:assert/strict";

const script = `
import { currentTraceparent } from ${
  JSON.stringify(new URL("./tracing.ts", import.meta.url).href)
};
console.log(String(currentTraceparent()));
const { trace } = await import("@opentelemetry/api");
trace.getTracer("t").startActiveSpan("x", (span) => {
  console.log(String(currentTraceparent()));
  span.end();
});
`;

Deno.test("currentTraceparent loads the OpenTelemetry API on its first call where one is registered, with no server created", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      script,
    ],
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(lines[0], "undefined", "before the API has loaded");
  assert.match(lines[1], /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
});
