// The load benchmark's result rows: their JSON shape, the per-run line,
// the median of repeats and the markdown table. Internal to bench/.

import { fmt, markdownTable } from "./_harness.ts";

/** One measured configuration, as written to results/load.json. */
export interface LoadResult {
  target: string;
  connections: number;
  pipeline: number;
  payload_bytes: number;
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  /**
   * CPU use of the server process over the window (100 = one core); null
   * for an external server whose process is not known.
   */
  server_cpu_percent: number | null;
  /**
   * Server CPU time per request in microseconds: what one request costs
   * the server, whichever side was saturated; null like the CPU.
   */
  server_us_per_request: number | null;
  /**
   * Server RSS with this row's connections open (each answered one PING)
   * before its load; it includes what earlier rows left. Null when the
   * server's process is not known.
   */
  server_rss_idle_bytes: number | null;
  /** Peak server RSS over the measured window; null like the idle RSS. */
  server_rss_peak_bytes: number | null;
  /** CPU use of this load generator over the window. */
  loadgen_cpu_percent: number;
  /** CPU use of every other process on the machine (noise; want ~0). */
  other_cpu_percent: number;
  /** Responses out of order or missing, and connections lost. */
  errors: number;
  /** True for a server given with --target, already running. */
  external: boolean;
  /** Where the server listened: `tcp://HOST:PORT` or `unix://PATH`. */
  url: string;
}

/** One run as a line of the log. */
export function runLine(r: LoadResult): string {
  return `${r.target} c=${r.connections} p=${r.pipeline}: ` +
    `${r.requests_per_second.toLocaleString("en-US")} req/s, ` +
    `p50 ${fmt(r.p50_ms, 3)} ms, p99 ${fmt(r.p99_ms, 3)} ms, ` +
    `CPU server ${fmt(r.server_cpu_percent ?? NaN, 0)}% ` +
    `(${fmt(r.server_us_per_request ?? NaN, 1)} µs/req) ` +
    `loadgen ${r.loadgen_cpu_percent}% other ${r.other_cpu_percent}%, ` +
    `RSS idle ${mib(r.server_rss_idle_bytes)} MiB ` +
    `peak ${mib(r.server_rss_peak_bytes)} MiB` +
    (r.errors ? `, ${r.errors} errors` : "");
}

/** `n`, or null for NaN (unknown: JSON has no NaN). */
export function known(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/** Bytes as MiB with one decimal, or "–". */
export function mib(bytes: number | null): string {
  return fmt((bytes ?? NaN) / 2 ** 20, 1);
}

/** The run with the median requests/s (the lower middle for even counts). */
export function median(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) =>
    a.requests_per_second - b.requests_per_second
  );
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** `n` rounded to three decimals. */
export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The results as a markdown table, with each target's share of raw-echo. */
export function loadTable(results: LoadResult[]): string {
  const raw = new Map<string, number>();
  for (const r of results) {
    if (r.target === "raw-echo") {
      raw.set(`${r.connections}/${r.pipeline}`, r.requests_per_second);
    }
  }
  return markdownTable(
    [
      "target",
      "connections",
      "pipeline",
      "payload B",
      "requests/s",
      "× raw-echo",
      "p50 ms",
      "p99 ms",
      "server CPU %",
      "server µs/req",
      "server RSS idle MiB",
      "server RSS peak MiB",
      "loadgen CPU %",
      "other CPU %",
    ],
    results.map((r) => {
      const base = raw.get(`${r.connections}/${r.pipeline}`);
      return [
        r.target,
        String(r.connections),
        String(r.pipeline),
        String(r.payload_bytes),
        r.requests_per_second.toLocaleString("en-US"),
        base ? fmt(r.requests_per_second / base) : "–",
        fmt(r.p50_ms, 3),
        fmt(r.p99_ms, 3),
        fmt(r.server_cpu_percent ?? NaN, 0),
        fmt(r.server_us_per_request ?? NaN, 1),
        mib(r.server_rss_idle_bytes),
        mib(r.server_rss_peak_bytes),
        String(r.loadgen_cpu_percent),
        String(r.other_cpu_percent),
      ];
    }),
  );
}
