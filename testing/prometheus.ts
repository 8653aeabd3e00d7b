/**
 * Test kit: a strict reader of the Prometheus text exposition format
 * (0.0.4), written from the format's description rather than from the
 * server's writer, so a metrics test checks the text a scraper sees.
 *
 * @module
 */

/** One sample line. */
export interface PromSample {
  /** Metric name, e.g. `nanorpc_requests_total` or `..._bucket`. */
  readonly name: string;
  /** Label values by label name. */
  readonly labels: Readonly<Record<string, string>>;
  /** The value (`+Inf`, `-Inf` and `NaN` included). */
  readonly value: number;
}

/** A parsed exposition. */
export interface PromText {
  /** `# TYPE` of each family, by family name. */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` of each family, by family name. */
  readonly help: ReadonlyMap<string, string>;
  /** Every sample, in order. */
  readonly samples: readonly PromSample[];
  /**
   * The value of the one sample named `name` whose labels include
   * `labels`; undefined when there is none.
   *
   * @throws {Error} When several samples match.
   */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(
  `^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`,
);
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`,
  "s",
);
// A label value may hold any character but `\`, `"` and a line feed,
// which are escaped (the only escapes there are).
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

/**
 * Parses a Prometheus text exposition, checking as it goes: every line is
 * a HELP, a TYPE or a sample; a family is typed once and before its
 * samples; each sample belongs to a typed family (histogram samples as
 * `_bucket`, `_sum`, `_count`); label values are well escaped; no sample
 * (name and labels) repeats.
 *
 * @param text The exposition.
 * @returns The families and samples.
 * @throws {Error} Naming the first line that breaks the format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePrometheus } from "./prometheus.ts";
 *
 * const text = parsePrometheus(
 *   '# TYPE x_total counter\nx_total{path="/a"} 3\n',
 * );
 * assert.equal(text.value("x_total", { path: "/a" }), 3);
 * ```
 */
export function parsePrometheus(text: string): PromText {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: PromSample[] = [];
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith("\n")) {
    throw new Error("The exposition must end with a newline");
  }
  text.split("\n").forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line === "") return;
    let m: RegExpExecArray | null;
    if ((m = HELP.exec(line))) {
      if (help.has(m[1])) throw new Error(`${where}: second HELP`);
      help.set(m[1], m[2]);
    } else if ((m = TYPE.exec(line))) {
      if (types.has(m[1])) throw new Error(`${where}: second TYPE`);
      if (samples.some((s) => familyOf(s.name, types) === m![1])) {
        throw new Error(`${where}: TYPE after the family's samples`);
      }
      types.set(m[1], m[2]);
    } else if (line.startsWith("#")) {
      // A comment.
    } else if ((m = SAMPLE.exec(line))) {
      const labels = parseLabels(m[2] ?? "", where);
      const value = parseValue(m[3], where);
      if (familyOf(m[1], types) === undefined) {
        throw new Error(`${where}: sample of a family with no TYPE`);
      }
      const key = `${m[1]}{${JSON.stringify(labels)}}`;
      if (seen.has(key)) throw new Error(`${where}: repeated sample`);
      seen.add(key);
      samples.push({ name: m[1], labels, value });
    } else {
      throw new Error(`${where}: not a HELP, TYPE or sample line`);
    }
  });
  return {
    types,
    help,
    samples,
    value(name, labels = {}) {
      const hits = samples.filter((s) =>
        s.name === name &&
        Object.entries(labels).every(([k, v]) => s.labels[k] === v)
      );
      if (hits.length > 1) {
        throw new Error(
          `${hits.length} samples of ${name} match ${JSON.stringify(labels)}`,
        );
      }
      return hits[0]?.value;
    },
  };
}

function familyOf(
  name: string,
  types: ReadonlyMap<string, string>,
): string | undefined {
  if (types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && types.get(m[1]) === "histogram") return m[1];
  return undefined;
}

function parseLabels(body: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = body;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`${where}: bad labels at ${JSON.stringify(rest)}`);
    if (m[1] in labels) throw new Error(`${where}: label ${m[1]} repeats`);
    labels[m[1]] = m[2].replace(/\\([\\"n])/g, (_, c) => c === "n" ? "\n" : c);
    rest = rest.slice(m[0].length);
    if (m[3] === "" && rest.length > 0) throw new Error(`${where}: labels`);
  }
  return labels;
}

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) {
    throw new Error(`${where}: value ${JSON.stringify(text)} is no number`);
  }
  return value;
}
