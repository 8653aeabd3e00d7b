// The Prometheus text exposition (format 0.0.4) of a server's metrics:
// request counts and durations per registered path, the server's counters
// and gauges, and the broker's figures when it reports them.

import { MalformedReason } from "../wasm/malformed.ts";
import type { ServerCore } from "./_core.ts";
import {
  DURATION_BOUNDS,
  type RouteMetrics,
  STATUS_LABELS,
} from "./_request_metrics.ts";
import type { ServerStats } from "./stats.ts";

/** Label value of paths that are not registered. */
export const UNREGISTERED = "unregistered";

type Kind = "counter" | "gauge" | "histogram" | "untyped";

/** ServerStats fields exported as they are: [stat, metric, kind, help]. */
const STATS: readonly (readonly [keyof ServerStats, string, Kind, string])[] = [
  ["subscriptions", "subscriptions", "gauge", "Live subscriptions."],
  ["groupMemberships", "group_memberships", "gauge", "Group memberships."],
  [
    "lingeringSessions",
    "sessions_lingering",
    "gauge",
    "Sessions whose connection dropped, waiting to be resumed.",
  ],
  ["sessionsOpened", "sessions_opened_total", "counter", "Sessions accepted."],
  [
    "sessionsRefused",
    "sessions_refused_total",
    "counter",
    "Connections refused (maxSessions, handshake, rate, drain, shutdown).",
  ],
  ["framesIn", "frames_received_total", "counter", "Request frames decoded."],
  [
    "framesOut",
    "frames_sent_total",
    "counter",
    "Response, pong and update frames sent.",
  ],
  ["bytesIn", "received_bytes_total", "counter", "Bytes read from peers."],
  ["bytesOut", "sent_bytes_total", "counter", "Bytes written to peers."],
  [
    "updatesSent",
    "updates_sent_total",
    "counter",
    "Updates queued for sessions.",
  ],
  [
    "droppedUpdates",
    "updates_dropped_total",
    "counter",
    "Updates dropped: outgoing or resume buffer full.",
  ],
  [
    "malformedCloses",
    "malformed_closes_total",
    "counter",
    "Connections closed for a malformed frame.",
  ],
  [
    "resyncs",
    "resyncs_total",
    "counter",
    "Serial lines resynchronised after a bad frame.",
  ],
  [
    "overflowCloses",
    "overflow_closes_total",
    "counter",
    "Sessions closed because a response did not fit their buffer.",
  ],
  [
    "idleCloses",
    "idle_closes_total",
    "counter",
    "Sessions closed by the idle timeout.",
  ],
  [
    "rateLimitedRequests",
    "rate_limited_requests_total",
    "counter",
    "Requests that waited for their session's rate limit.",
  ],
  [
    "rateLimitCloses",
    "rate_limit_closes_total",
    "counter",
    "Sessions closed for staying over their rate limit.",
  ],
  [
    "connectionsRateLimited",
    "connections_rate_limited_total",
    "counter",
    "Connections refused by the per-address connection rate.",
  ],
  [
    "resumes",
    "resumes_total",
    "counter",
    "Sessions resumed on a new connection.",
  ],
  [
    "resumesRefused",
    "resumes_refused_total",
    "counter",
    "Resume requests answered NOT_FOUND.",
  ],
  [
    "resumesExpired",
    "resumes_expired_total",
    "counter",
    "Lingering sessions ended unresumed (grace period over, or maxSessions lingering).",
  ],
  [
    "drainCloses",
    "drain_closes_total",
    "counter",
    "Sessions closed by a drain.",
  ],
  [
    "carryOverflows",
    "group_carry_overflows_total",
    "counter",
    "Forwarded calls whose answer was full of group broadcasts: later ones went through the broker.",
  ],
  [
    "topicFailures",
    "topic_failures_total",
    "counter",
    "Topic filters that threw, and updates a typed topic could not decode.",
  ],
  [
    "brokerDropped",
    "broker_dropped_total",
    "counter",
    "Messages the broker dropped.",
  ],
];
const DROPPED = new Set(["dropped"]);
/** Stats shown elsewhere (with labels) or not at all. */
const SHOWN_ELSEWHERE = new Set<string>(["sessions"]);

const REASON_LABELS: string[] = [];
for (const [name, code] of Object.entries(MalformedReason)) {
  REASON_LABELS[code] = name;
}

/** Writes metric families, one `# HELP`/`# TYPE` header each. */
class Exposition {
  #lines: string[] = [];

  family(name: string, kind: Kind, help: string): this {
    this.#lines.push(`# HELP nanorpc_${name} ${help}`);
    this.#lines.push(`# TYPE nanorpc_${name} ${kind}`);
    return this;
  }

  sample(name: string, labels: string, value: number): this {
    this.#lines.push(
      `nanorpc_${name}${labels ? `{${labels}}` : ""} ${format(value)}`,
    );
    return this;
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/** Renders every metric of the server behind `core`. */
export function renderMetrics(
  core: ServerCore,
  stats: ServerStats = core.stats,
): string {
  const out = new Exposition();
  requestFamilies(out, core);
  out.family("sessions", "gauge", "Connected sessions, by transport.");
  const byTransport = new Map<string, number>();
  for (const session of core.sessions.values()) {
    if (session.linger || session.closed) continue;
    byTransport.set(
      session.transport,
      (byTransport.get(session.transport) ?? 0) + 1,
    );
  }
  if (byTransport.size === 0) out.sample("sessions", 'transport="tcp"', 0);
  for (const [transport, n] of byTransport) {
    out.sample("sessions", `transport="${escape(transport)}"`, n);
  }
  const known = new Set<string>(SHOWN_ELSEWHERE);
  for (const [stat, name, kind, help] of STATS) {
    known.add(stat);
    out.family(name, kind, help).sample(name, "", stats[stat] as number);
  }
  // Counters other layers add to ServerStats (the cluster's, say).
  for (const [stat, value] of Object.entries(stats)) {
    if (known.has(stat) || typeof value !== "number") continue;
    const name = snake(stat);
    out.family(name, "untyped", `ServerStats.${stat}.`).sample(name, "", value);
  }
  out.family(
    "malformed_frames_total",
    "counter",
    "Malformed frames, by the codec's reason (closes, or resyncs on serial lines).",
  );
  core.ops.malformed.forEach((n, code) => {
    const reason = REASON_LABELS[code] ?? `REASON_${code}`;
    if (n) out.sample("malformed_frames_total", `reason="${reason}"`, n);
  });
  // broker_dropped_total comes from the server's stats.
  sourceFamilies(out, "broker", core.broker, BROKER_GAUGES, DROPPED);
  sourceFamilies(out, "forward", core.forward?.forwarder, FORWARD_GAUGES);
  const memory = Deno.memoryUsage();
  out.family("process_resident_memory_bytes", "gauge", "Resident set size.")
    .sample("process_resident_memory_bytes", "", memory.rss);
  out.family("process_heap_used_bytes", "gauge", "JavaScript heap in use.")
    .sample("process_heap_used_bytes", "", memory.heapUsed);
  return out.text();
}

function requestFamilies(out: Exposition, core: ServerCore): void {
  const metrics = core.ops.metrics;
  const rows: [string, RouteMetrics][] = metrics
    ? metrics.routes.map((r) => [escape(r.path), r.metrics!])
    : [];
  if (metrics) rows.push([UNREGISTERED, metrics.unregistered]);
  for (
    const [field, name, what] of [
      ["requests", "requests_total", "REQUESTs answered"],
      ["subscribes", "subscribes_total", "SUBSCRIBEs answered"],
    ] as const
  ) {
    out.family(name, "counter", `${what}, by path and status.`);
    for (const [path, m] of rows) {
      m[field].forEach((n, status) => {
        if (n === 0) return;
        out.sample(
          name,
          `path="${path}",status="${STATUS_LABELS[status]}"`,
          n,
        );
      });
    }
  }
  const name = "request_duration_seconds";
  out.family(name, "histogram", "Time from reading a REQUEST to answering it.");
  for (const [path, m] of rows) {
    let count = 0;
    m.buckets.forEach((n, i) => {
      count += n;
      const le = i < DURATION_BOUNDS.length
        ? format(DURATION_BOUNDS[i])
        : "+Inf";
      if (path !== UNREGISTERED || count > 0) {
        out.sample(`${name}_bucket`, `path="${path}",le="${le}"`, count);
      }
    });
    if (path === UNREGISTERED && count === 0) continue;
    out.sample(`${name}_sum`, `path="${path}"`, m.sumMs / 1000);
    out.sample(`${name}_count`, `path="${path}"`, count);
  }
}

/**
 * The own figures of the broker or the cluster forwarder, when it reports
 * them (`stats`): numbers as counters (gauges for those in `gauges`), a
 * link `state` as `<prefix>_connected`, drops by reason.
 */
function sourceFamilies(
  out: Exposition,
  prefix: string,
  source: unknown,
  gauges: ReadonlySet<string>,
  skip: ReadonlySet<string> = new Set(),
): void {
  const stats = (source as { stats?: Record<string, unknown> } | undefined)
    ?.stats;
  if (!stats || typeof stats !== "object") return;
  for (const [key, value] of Object.entries(stats)) {
    if (skip.has(key)) continue;
    if (key === "state" && typeof value === "string") {
      const name = `${prefix}_connected`;
      out.family(name, "gauge", "1 when the link is up.")
        .sample(name, "", value === "connected" ? 1 : 0);
    } else if (key === "droppedBy" && value && typeof value === "object") {
      const name = `${prefix}_dropped_by_reason_total`;
      out.family(name, "counter", "Messages dropped, by reason.");
      for (const [reason, n] of Object.entries(value)) {
        if (typeof n !== "number") continue;
        out.sample(name, `reason="${escape(reason)}"`, n);
      }
    } else if (typeof value === "number") {
      const gauge = gauges.has(key);
      const name = `${prefix}_${snake(key)}${gauge ? "" : "_total"}`;
      out.family(name, gauge ? "gauge" : "counter", `${prefix} stats.${key}.`)
        .sample(name, "", value);
    }
  }
}

/** Broker figures that go up and down. */
const BROKER_GAUGES = new Set([
  "pending",
  "pendingBytes",
  "unflushedBytes",
  "channels",
]);
/** Forwarder figures that go up and down. */
const FORWARD_GAUGES = new Set(["nodes", "inflight", "serving"]);

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A label value, escaped as the text format wants. */
function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

function format(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}
