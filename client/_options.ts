/**
 * Client options checked and completed with their defaults, once, when the
 * client is created.
 *
 * @module
 */

import { Backoff } from "./backoff.ts";
import type { ClientOptions } from "./options.ts";
import type { Tracer } from "@opentelemetry/api";
import { checkTimeLimit } from "./_timer.ts";

/** {@link ClientOptions} with every default filled in. */
export interface Settings {
  hash: boolean;
  timeout: number;
  maxMessageSize: number;
  maxRequestSize: number;
  connectTimeout: number;
  waitForServer: boolean;
  /** Undefined when the client does not reconnect. */
  backoff: Backoff | undefined;
  maxAttempts: number;
  failFast: boolean;
  queueSize: number;
  maxUnsentBytes: number;
  maxAbandonedRequests: number;
  /** Undefined when keepalive is off. */
  keepalive: { interval: number; timeout: number } | undefined;
  caCerts: string[] | undefined;
  protocols: string[] | undefined;
  resume: boolean;
  beforeReconnect: ((signal: AbortSignal) => void | Promise<void>) | undefined;
  tracer: Tracer | undefined;
  initialRequestId: number | undefined;
}

const MIB = 1024 * 1024;

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws {RangeError} Naming the first option that is out of range.
 */
export function resolveOptions(options: ClientOptions): Settings {
  const timeout = options.timeout ?? 30_000;
  checkTimeLimit("timeout", timeout);
  const connectTimeout = options.connectTimeout ?? 10_000;
  checkTimeLimit("connectTimeout", connectTimeout);
  const maxMessageSize = options.maxMessageSize ?? MIB;
  checkSize("maxMessageSize", maxMessageSize);
  const maxRequestSize = options.maxRequestSize ?? maxMessageSize;
  checkSize("maxRequestSize", maxRequestSize);
  const queueSize = options.queueSize ?? 1024;
  checkCount("queueSize", queueSize, 0);
  const maxUnsentBytes = options.maxUnsentBytes ?? 4 * MIB;
  checkCount("maxUnsentBytes", maxUnsentBytes, 1);
  const maxAbandonedRequests = options.maxAbandonedRequests ?? 10_000;
  checkCount("maxAbandonedRequests", maxAbandonedRequests, 0);

  const reconnect = options.reconnect ?? true;
  const backoff = reconnect === false
    ? undefined
    : new Backoff(reconnect === true ? {} : reconnect);
  const maxAttempts = typeof reconnect === "object"
    ? reconnect.maxAttempts ?? Infinity
    : Infinity;
  if (typeof maxAttempts !== "number" || !(maxAttempts >= 0)) {
    throw new RangeError(
      `reconnect.maxAttempts must be a number >= 0, got ${String(maxAttempts)}`,
    );
  }

  const keepalive = options.keepalive ?? true;
  let ka: Settings["keepalive"];
  if (keepalive !== false) {
    const k = keepalive === true ? {} : keepalive;
    ka = { interval: k.interval ?? 30_000, timeout: k.timeout ?? 10_000 };
    checkPositive("keepalive.interval", ka.interval);
    checkPositive("keepalive.timeout", ka.timeout);
  }

  return {
    hash: options.hash ?? false,
    timeout,
    maxMessageSize,
    maxRequestSize,
    connectTimeout,
    waitForServer: options.waitForServer ?? false,
    backoff,
    maxAttempts,
    failFast: options.failFast ?? false,
    queueSize,
    maxUnsentBytes,
    maxAbandonedRequests,
    keepalive: ka,
    caCerts: options.caCerts,
    protocols: options.protocols,
    resume: options.resume ?? false,
    beforeReconnect: options.beforeReconnect,
    tracer: options.tracer,
    initialRequestId: options.initialRequestId,
  };
}

/** Throws unless `n` is an integer >= `min` (or `Infinity`). */
export function checkCount(name: string, n: number, min: number): void {
  if (
    typeof n !== "number" || !(n >= min) ||
    (!Number.isInteger(n) && n !== Infinity)
  ) {
    throw new RangeError(
      `${name} must be a whole number >= ${min}, got ${String(n)}`,
    );
  }
}

/** A frame size: what the codec's int32 arithmetic can hold. */
function checkSize(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) {
    throw new RangeError(
      `${name} must be a whole number of bytes from 1 to 2147483647, got ${
        String(n)
      }`,
    );
  }
}

function checkPositive(name: string, ms: number): void {
  if (typeof ms !== "number" || !(ms > 0)) {
    throw new RangeError(
      `${name} must be a number of milliseconds > 0, got ${String(ms)}`,
    );
  }
}
