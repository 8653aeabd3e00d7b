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
    '# TYPE x counter\nx{a="\\t"} 1\n', // an escape the format lacks
  ];
  for (const text of bad) {
    assert.throws(() => parsePrometheus(text), Error, text);
  }
});

Deno.test("parsePrometheus reads label values holding any character but the escaped ones, carriage returns and line separators included", () => {
  // Paths may hold any UTF-8; only \\, " and a line feed are escaped.
  const path = "/cr\rls\u2028ps\u2029tab\t\u{1f600} {x}";
  const m = parsePrometheus(
    `# TYPE a_total counter\na_total{path="${path}",status="OK"} 1\n`,
  );
  assert.equal(m.value("a_total", { path, status: "OK" }), 1);
});
