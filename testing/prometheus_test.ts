import assert from "node:assert/strict";
import { parsePrometheus } from "./prometheus.ts";

Deno.test("parsePrometheus reads families, labels with escapes and special values", () => {
  const m = parsePrometheus(
    [
      "# HELP a_total Things.",
      "# TYPE a_total counter",
      'a_total{path="/x\\"y\\\\z",status="OK"} 3',
      "# TYPE h histogram",
      'h_bucket{le="+Inf"} 2',
      "h_sum 0.5",
      "h_count 2",
      "# TYPE g gauge",
      "g NaN",
      "",
    ].join("\n"),
  );
  assert.equal(m.value("a_total", { path: '/x"y\\z' }), 3);
  assert.equal(m.value("h_bucket", { le: "+Inf" }), 2);
  assert.equal(m.help.get("a_total"), "Things.");
  assert.ok(Number.isNaN(m.value("g")!));
});

Deno.test("parsePrometheus rejects what a scraper would refuse", () => {
  const bad = [
    "x 1\n", // no TYPE
    '# TYPE x counter\nx{a="1",a="2"} 1\n', // repeated label
    "# TYPE x counter\nx one\n", // not a number
    "# TYPE x counter\nx 1\nx 2\n", // repeated sample
    "# TYPE x counter\nx 1\n# TYPE x counter\n", // second TYPE
    "# TYPE x counter\nx{a=1} 1\n", // unquoted label value
    "# TYPE x counter\nx 1", // no final newline
  ];
  for (const text of bad) {
    assert.throws(() => parsePrometheus(text), Error, text);
  }
});
