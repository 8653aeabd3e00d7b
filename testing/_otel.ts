// A collector of OTLP/JSON spans for tests: a child process runs with
// OTEL_DENO=true and exports to it.

import assert from "node:assert/strict";

/** A span as OTLP/JSON carries it (the fields tests read). */
export interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  status?: { code?: number };
  attributes?: { key: string; value: Record<string, unknown> }[];
}

/** OTLP's span kinds. */
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;

/**
 * Runs `code` in a child process with OTEL_DENO=true, exporting OTLP/JSON
 * to a collector here; resolves with the spans it exported and its
 * standard output once it has exited (Deno flushes its spans at exit).
 */
export async function traced(
  code: string,
): Promise<{ spans: OtlpSpan[]; out: string }> {
  const spans: OtlpSpan[] = [];
  await using collector = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      const body = await req.json();
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
      }
      return Response.json({});
    },
  );
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: new URL("..", import.meta.url).pathname,
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "nanorpc-test",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
  return { spans, out: new TextDecoder().decode(child.stdout) };
}
