// Token buckets: the per-session limit (and its per-path limits) that the
// connection loop waits on before serving a frame, and the per-address
// limit on new connections that admission applies.

import type { PeerAddress } from "../transport/byte_stream.ts";
import { PATH_NONE, PATH_STRING } from "../wasm/codec.ts";
import type { RequestFrames } from "../wasm/frames.ts";
import { fnv1a, RequestType, ResponseType, Status } from "../wasm/wire.ts";
import type { RateLimit, SessionRateLimit } from "./ops_options.ts";
import { hostKey } from "./_host_key.ts";
import { pathMatches } from "./_router.ts";
import type { ServerSession } from "./_session.ts";

/** Longest single pause: a session being closed or drained notices. */
const MAX_PAUSE = 1000;

/** Checks a {@link RateLimit} and fills in the burst. */
export function checkRateLimit(
  name: string,
  limit: RateLimit,
): Required<RateLimit> {
  const { perSecond } = limit;
  if (
    typeof perSecond !== "number" || !(perSecond > 0 && perSecond < Infinity)
  ) {
    throw new RangeError(
      `${name}.perSecond must be a finite number > 0 (leave the limit out for none), got ${
        String(perSecond)
      }`,
    );
  }
  const burst = limit.burst ?? Math.ceil(perSecond);
  if (!Number.isInteger(burst) || burst < 1) {
    throw new RangeError(
      `${name}.burst must be a whole number >= 1, got ${String(burst)}`,
    );
  }
  return { perSecond, burst };
}

/** A token bucket driven by the caller's clock readings. */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at = -Infinity;

  constructor(limit: Required<RateLimit>) {
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst;
    this.#tokens = limit.burst;
  }

  /**
   * Milliseconds from `now` until a token is there; 0 when one is (then
   * {@link take} may take it).
   */
  wait(now: number): number {
    if (now > this.#at) {
      const tokens = this.#tokens + (now - this.#at) * this.#perMs;
      this.#tokens = tokens > this.#burst ? this.#burst : tokens;
      this.#at = now;
    }
    if (this.#tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }

  /** Takes the token {@link wait} found. */
  take(): void {
    this.#tokens--;
  }

  /** Takes a token at `now` if there is one; returns whether it did. */
  tryTake(now: number): boolean {
    if (this.wait(now) !== 0) return false;
    this.#tokens--;
    return true;
  }

  /** Whether the bucket would be full at `now` (nothing to remember). */
  full(now: number): boolean {
    return this.#tokens + (now - this.#at) * this.#perMs >= this.#burst;
  }
}

/** The server-wide settings every session's limiter is made from. */
export class RateLimitSettings {
  readonly session: Required<RateLimit>;
  /** Per-path limits by path hash. */
  readonly paths: Map<number, Required<RateLimit>> | undefined;
  readonly closeAfter: number;

  constructor(options: SessionRateLimit) {
    this.session = checkRateLimit("rateLimit", options);
    const paths = Object.entries(options.paths ?? {});
    this.paths = paths.length === 0 ? undefined : new Map(
      paths.map(([path, limit]) => {
        const name = `rateLimit.paths[${JSON.stringify(path)}]`;
        // A key without "/" names no route: its limit would never apply.
        if (!path.startsWith("/")) {
          throw new RangeError(
            `${name}: paths start with "/", as the routes they limit do`,
          );
        }
        return [fnv1a(path), checkRateLimit(name, limit)];
      }),
    );
    const closeAfter = options.closeAfter ?? Infinity;
    if (typeof closeAfter !== "number" || !(closeAfter > 0)) {
      throw new RangeError(
        `rateLimit.closeAfter must be a number of milliseconds > 0, got ${
          String(closeAfter)
        }`,
      );
    }
    this.closeAfter = closeAfter;
  }
}

/**
 * One session's limits. `admit` says how long the next frame must wait;
 * the session is "over its limit" from a wait until two frames in a row
 * are served without one, or until it sends nothing for as long as a
 * token of its own takes (1 / perSecond) after a frame is served.
 */
export class SessionLimiter {
  readonly #settings: RateLimitSettings;
  readonly #bucket: TokenBucket;
  /** Ms per token of the session's own bucket. */
  readonly #interval: number;
  #paths?: Map<number, TokenBucket>;
  #overSince = -1;
  #waited = false;
  /** When the last frame was let through. */
  #servedAt = -Infinity;

  constructor(settings: RateLimitSettings) {
    this.#settings = settings;
    this.#bucket = new TokenBucket(settings.session);
    this.#interval = 1000 / settings.session.perSecond;
  }

  /**
   * Takes the tokens a frame to `pathHash` needs at `now`: 0 when it may
   * be served, else the ms to wait before asking again; -1 when the
   * session has been over its limit longer than `closeAfter`.
   */
  admit(pathHash: number, now: number): number {
    let wait = this.#bucket.wait(now);
    const limit = this.#settings.paths?.get(pathHash);
    let bucket: TokenBucket | undefined;
    if (limit !== undefined) {
      bucket = (this.#paths ??= new Map()).get(pathHash);
      if (!bucket) this.#paths.set(pathHash, bucket = new TokenBucket(limit));
      wait = Math.max(wait, bucket.wait(now));
    }
    if (wait === 0) {
      this.#bucket.take();
      bucket?.take();
      this.#servedAt = now;
      if (this.#waited) this.#waited = false;
      else this.#overSince = -1;
      return 0;
    }
    // A first wait after a pause starts a new spell over the limit: a slow
    // path's bucket may still be empty long after the session's last wait.
    if (
      this.#overSince < 0 ||
      (!this.#waited && now - this.#servedAt >= this.#interval)
    ) {
      this.#overSince = now;
    }
    this.#waited = true;
    // Wake by the time the session would have been over too long.
    const left = this.#settings.closeAfter - (now - this.#overSince);
    if (left <= 0) return -1;
    return Math.max(1, Math.min(wait, Math.ceil(left)));
  }
}

/**
 * The frame `frames` is at must wait `wait` ms (from `limiter.admit`) for
 * its session's rate limit: the session stops reading, answers so far go
 * out, and it waits until the frame may be served. Resolves false when the
 * session ended, is shutting down or moved meanwhile (or stayed over its
 * limit too long and was closed): then the frame is not served.
 */
export async function throttle(
  session: ServerSession,
  frames: RequestFrames,
  wait: number,
): Promise<boolean> {
  const { core, out, stream } = session;
  core.stats.rateLimitedRequests++;
  // The decode table is shared by all sessions: keep the rest of ours.
  frames.detach();
  out.uncork();
  core.ops.observer?.flush?.(session);
  try {
    while (wait > 0) {
      await new Promise((r) => setTimeout(r, Math.min(wait, MAX_PAUSE)));
      session.lastFrameAt = performance.now();
      if (session.closed || session.draining || session.stream !== stream) {
        return false;
      }
      wait = session.limiter!.admit(frames.pathHash, session.lastFrameAt);
    }
    if (wait < 0) {
      core.stats.rateLimitCloses++;
      const why = `over its rate limit for more than ${
        core.ops.rateLimit!.closeAfter
      } ms: send fewer requests`;
      core.logger.warn(`${session}: closing, ${why}`);
      session.close(why);
      return false;
    }
    return true;
  } finally {
    out.cork();
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Answers the frame `frames` is at, a request read before shutdown that
 * would have had to wait for its rate limit: the server does not wait,
 * and says so, so every request already read is answered.
 */
export function refuseShuttingDown(
  session: ServerSession,
  frames: RequestFrames,
  input: Uint8Array,
): void {
  const observer = session.core.ops.observer;
  if (observer) {
    // Counted under its path when it is a registered one.
    const kind = frames.pathKind;
    let route = kind === PATH_NONE
      ? undefined
      : session.core.router.lookup(frames.pathKey);
    if (
      route && kind === PATH_STRING &&
      !pathMatches(route, input, frames.pathOffset, frames.pathLength)
    ) route = undefined;
    observer.refused(
      route,
      frames.type === RequestType.SUBSCRIBE,
      Status.INTERNAL_ERROR,
    );
  }
  session.respond(
    frames.id,
    ResponseType.RESPONSE,
    Status.INTERNAL_ERROR,
    "server is shutting down: this request was not served; send it again to another server",
    EMPTY,
  );
}

/** Most addresses remembered by the connection limiter. */
const MAX_ADDRESSES = 65_536;
/**
 * What a sweep of a full table leaves at most: the next sweep is an
 * eighth of the table's new hosts away, so a flood of new hosts costs a
 * few bucket checks each, not a walk over the whole table each.
 */
const SWEPT_ADDRESSES = MAX_ADDRESSES - MAX_ADDRESSES / 8;

/**
 * New connections per second per remote host ({@link hostKey}: an IPv4
 * address, an IPv6 /64). Buckets that have refilled
 * are forgotten when the table is full, so it stays bounded; if too many
 * are still in use, the oldest go too.
 */
export class AddressLimiter {
  readonly #limit: Required<RateLimit>;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(limit: RateLimit) {
    this.#limit = checkRateLimit("connectionRateLimit", limit);
  }

  /** Whether a new connection from `addr` may come in now. */
  admit(addr: PeerAddress): boolean {
    // Local transports (UNIX sockets, serial lines) have no host to tell
    // peers apart: one bucket for each transport.
    const key = addr.hostname === undefined
      ? `${addr.transport}:`
      : hostKey(addr.hostname);
    const now = performance.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_ADDRESSES) this.#sweep(now);
      this.#buckets.set(key, bucket = new TokenBucket(this.#limit));
    }
    return bucket.tryTake(now);
  }

  /** The sustained rate, per second. */
  get perSecond(): number {
    return this.#limit.perSecond;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    const buckets = this.#buckets;
    for (const [key, bucket] of buckets) {
      if (bucket.full(now)) buckets.delete(key);
    }
    for (const key of buckets.keys()) {
      if (buckets.size <= SWEPT_ADDRESSES) break;
      buckets.delete(key);
    }
  }
}
