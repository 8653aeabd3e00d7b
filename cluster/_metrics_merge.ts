// The metrics of a worker pool: the Prometheus text of every worker,
// merged into one exposition where each series is the sum over the
// workers (requests, sessions, bytes, histograms), except what every
// worker reports about something they share.

/**
 * Series not summed, and how they merge instead: the process's memory
 * and the cluster's nodes (every worker sees the same: the largest), and
 * whether links are up (up only if every worker's is: the smallest).
 */
const SHARED: Readonly<Record<string, (a: number, b: number) => number>> = {
  nanorpc_process_resident_memory_bytes: Math.max,
  nanorpc_forward_nodes: Math.max,
  nanorpc_broker_connected: Math.min,
  nanorpc_forward_connected: Math.min,
};

/** One metric family: its header lines and its series, in order. */
interface Family {
  header: string[];
  /** Sum (or, process-wide, the largest value) by series (name + labels). */
  values: Map<string, number>;
}

/**
 * Merges the Prometheus text expositions (format 0.0.4) of the workers
 * in `texts` into one: families in the order they first appear, each
 * series (a sample's name and labels) summed over the texts but for the
 * shared ones above, and a `nanorpc_workers` gauge saying how many texts
 * were merged.
 *
 * @throws {Error} On a line that is neither a comment nor a sample.
 */
export function mergeMetrics(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  for (const text of texts) {
    let family: Family | undefined;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const header = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (header) {
        family = familyOf(families, header[2]);
        const kind = `# ${header[1]} `;
        if (!family.header.some((h) => h.startsWith(kind))) {
          family.header.push(line);
        }
        continue;
      }
      if (line.startsWith("#")) continue;
      const at = line.lastIndexOf(" ");
      const series = line.slice(0, at);
      const raw = line.slice(at + 1);
      const value = parseValue(raw);
      if (at <= 0 || (Number.isNaN(value) && raw !== "NaN")) {
        throw new Error(`Not a metrics line: ${JSON.stringify(line)}`);
      }
      const name = series.replace(/\{.*$/, "");
      family ??= familyOf(families, name);
      const before = family.values.get(series);
      const merge = Object.hasOwn(SHARED, name) ? SHARED[name] : undefined;
      family.values.set(
        series,
        before === undefined
          ? value
          : merge
          ? merge(before, value)
          : before + value,
      );
    }
  }
  const lines: string[] = [];
  for (const family of families.values()) {
    lines.push(...family.header);
    for (const [series, value] of family.values) {
      lines.push(`${series} ${formatValue(value)}`);
    }
  }
  lines.push(
    "# HELP nanorpc_workers Workers whose figures this exposition sums.",
    "# TYPE nanorpc_workers gauge",
    `nanorpc_workers ${texts.length}`,
  );
  return lines.join("\n") + "\n";
}

function familyOf(families: Map<string, Family>, name: string): Family {
  let family = families.get(name);
  if (!family) families.set(name, family = { header: [], values: new Map() });
  return family;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return text.trim() === "" ? NaN : Number(text);
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}
