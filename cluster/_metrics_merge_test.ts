import assert from "node:assert/strict";
import { Server } from "../server/server.ts";
import { mergeMetrics } from "./_metrics_merge.ts";

const A = `# HELP nanorpc_requests_total REQUESTs answered, by path and status.
# TYPE nanorpc_requests_total counter
nanorpc_requests_total{path="/a b",status="OK"} 2
# HELP nanorpc_request_duration_seconds Time to answer.
# TYPE nanorpc_request_duration_seconds histogram
nanorpc_request_duration_seconds_bucket{path="/a b",le="0.001"} 1
nanorpc_request_duration_seconds_bucket{path="/a b",le="+Inf"} 2
nanorpc_request_duration_seconds_sum{path="/a b"} 0.25
nanorpc_request_duration_seconds_count{path="/a b"} 2
# HELP nanorpc_process_resident_memory_bytes Resident set size.
# TYPE nanorpc_process_resident_memory_bytes gauge
nanorpc_process_resident_memory_bytes 1000
`;

const B = `# HELP nanorpc_requests_total REQUESTs answered, by path and status.
# TYPE nanorpc_requests_total counter
nanorpc_requests_total{path="/a b",status="OK"} 3
nanorpc_requests_total{path="/c",status="NOT_FOUND"} 1
# HELP nanorpc_request_duration_seconds Time to answer.
# TYPE nanorpc_request_duration_seconds histogram
nanorpc_request_duration_seconds_bucket{path="/a b",le="0.001"} 0
nanorpc_request_duration_seconds_bucket{path="/a b",le="+Inf"} 3
nanorpc_request_duration_seconds_sum{path="/a b"} 0.5
nanorpc_request_duration_seconds_count{path="/a b"} 3
# HELP nanorpc_process_resident_memory_bytes Resident set size.
# TYPE nanorpc_process_resident_memory_bytes gauge
nanorpc_process_resident_memory_bytes 1200
`;

Deno.test("mergeMetrics sums each series over the texts, keeps each family's header once and counts the process's memory once", () => {
  assert.equal(
    mergeMetrics([A, B]),
    `# HELP nanorpc_requests_total REQUESTs answered, by path and status.
# TYPE nanorpc_requests_total counter
nanorpc_requests_total{path="/a b",status="OK"} 5
nanorpc_requests_total{path="/c",status="NOT_FOUND"} 1
# HELP nanorpc_request_duration_seconds Time to answer.
# TYPE nanorpc_request_duration_seconds histogram
nanorpc_request_duration_seconds_bucket{path="/a b",le="0.001"} 1
nanorpc_request_duration_seconds_bucket{path="/a b",le="+Inf"} 5
nanorpc_request_duration_seconds_sum{path="/a b"} 0.75
nanorpc_request_duration_seconds_count{path="/a b"} 5
# HELP nanorpc_process_resident_memory_bytes Resident set size.
# TYPE nanorpc_process_resident_memory_bytes gauge
nanorpc_process_resident_memory_bytes 1200
# HELP nanorpc_workers Workers whose figures this exposition sums.
# TYPE nanorpc_workers gauge
nanorpc_workers 2
`,
  );
});

Deno.test("mergeMetrics of two servers' own metrics gives each family once, with their sums", () => {
  const one = new Server({ logLevel: "error" });
  const two = new Server({ logLevel: "error" });
  const merged = mergeMetrics([one.metrics(), two.metrics()]);
  const types = merged.split("\n").filter((l) => l.startsWith("# TYPE "));
  assert.equal(types.length, new Set(types).size);
  assert.equal(
    types.length,
    one.metrics().split("\n").filter((l) => l.startsWith("# TYPE ")).length +
      1,
  );
  assert.match(merged, /^nanorpc_workers 2$/m);
  assert.match(merged, /^nanorpc_sessions\{transport="tcp"\} 0$/m);
});

Deno.test("mergeMetrics keeps the cluster's node count and says a link is up only when every worker's is", () => {
  const worker = (nodes: number, up: number) =>
    `nanorpc_forward_nodes ${nodes}\nnanorpc_forward_connected ${up}\n` +
    `nanorpc_broker_connected 1\n`;
  const merged = mergeMetrics([worker(3, 1), worker(3, 0)]);
  assert.match(merged, /^nanorpc_forward_nodes 3$/m);
  assert.match(merged, /^nanorpc_forward_connected 0$/m);
  assert.match(merged, /^nanorpc_broker_connected 1$/m);
});

Deno.test("mergeMetrics refuses a line that is not a sample", () => {
  assert.throws(
    () => mergeMetrics(["nanorpc_x 1\nnot-a-sample\n"]),
    /Not a metrics line: "not-a-sample"/,
  );
  assert.throws(
    () => mergeMetrics(["nanorpc_x one\n"]),
    /Not a metrics line: "nanorpc_x one"/,
  );
});
