// The operational flags of `deno task server`: rate limits, resumption,
// and the drain that SIGUSR2 starts.

import type { ListenOptions } from "./listener.ts";
import { metricsHandler, type MetricsSource } from "./metrics.ts";
import type { OperationsOptions } from "./ops_options.ts";
import { UsageError } from "./_usage.ts";

/** `parseArgs` options of the operational flags. */
export const OPS_FLAGS = {
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string" },
  "rate-close-after": { type: "string" },
  "connection-rate": { type: "string" },
  "resume-grace": { type: "string" },
  "drain-window": { type: "string" },
} as const;

/** The usage line of the operational flags. */
export const OPS_USAGE =
  `[--rate-limit N] [--rate-burst B] [--rate-close-after MS]
                        [--connection-rate N] [--resume-grace MS] [--drain-window MS]`;

/** What the operational flags say. */
export interface OpsFlags {
  /** Server options to spread into `new Server(...)`. */
  options: OperationsOptions;
  /** Window of the drain SIGUSR2 starts, in ms. */
  drainWindow: number;
}

/**
 * Reads the operational flags out of `parseArgs` values.
 *
 * @throws {Error} Naming the flag whose value is not a number in range.
 */
export function opsFlags(
  values: Partial<Record<keyof typeof OPS_FLAGS, string>>,
): OpsFlags {
  const num = (flag: keyof typeof OPS_FLAGS, min: number) => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n) || n < min) {
      throw new UsageError(
        `--${flag} wants a number >= ${min}, got ${JSON.stringify(text)}`,
      );
    }
    return n;
  };
  const options: OperationsOptions = {};
  const perSecond = num("rate-limit", Number.MIN_VALUE);
  const burst = num("rate-burst", 1);
  const closeAfter = num("rate-close-after", 1);
  if (perSecond === undefined && (burst ?? closeAfter) !== undefined) {
    throw new UsageError(
      "--rate-burst and --rate-close-after need --rate-limit",
    );
  }
  if (perSecond !== undefined) {
    options.rateLimit = { perSecond, burst, closeAfter };
    if (burst !== undefined && !Number.isInteger(burst)) {
      throw new UsageError(`--rate-burst wants a whole number, got ${burst}`);
    }
  }
  const connections = num("connection-rate", Number.MIN_VALUE);
  if (connections !== undefined) {
    options.connectionRateLimit = { perSecond: connections };
  }
  const grace = num("resume-grace", 0);
  if (grace !== undefined) options.resumeGrace = grace;
  return { options, drainWindow: num("drain-window", 0) ?? 10_000 };
}

/** An HTTP listener also serves `source`'s metrics at `/metrics`. */
export function withMetrics(
  target: ListenOptions,
  source: MetricsSource,
): ListenOptions {
  if (!("http" in target)) return target;
  const routes = { "/metrics": metricsHandler(source), ...target.http.routes };
  return { http: { ...target.http, routes } };
}
