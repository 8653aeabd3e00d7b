// Handlers and topics registered by path, looked up by the path's FNV-1a
// hash. A path whose hash collides with another registered path is a
// registration error, so a hash always names exactly one path.

import { fnv1a } from "../wasm/wire.ts";
import type { HandleOptions, Handler } from "./handler.ts";
import type { RouteMetrics } from "./_request_metrics.ts";
import type { TopicImpl } from "./_topic.ts";

/** One registered path: its handler, its topic, or both. */
export interface Route {
  /** The path as registered. */
  readonly path: string;
  /** UTF-8 bytes of the path, for checking paths sent as strings. */
  readonly bytes: Uint8Array;
  /** FNV-1a hash of the path. */
  readonly hash: number;
  /**
   * The hash as a signed 32-bit integer (`hash | 0`), what lookups compare:
   * unlike hashes of 2^31 and up it is never a boxed number in V8.
   */
  readonly key: number;
  /** The request handler, if one is registered. */
  handler?: Handler;
  /** Options the handler was registered with. */
  options: HandleOptions;
  /** The topic, if one is registered. */
  topic?: TopicImpl;
  /** Request counts and durations, once metrics counted one. */
  metrics?: RouteMetrics;
}

const encoder = new TextEncoder();

/** Validates a path given to a registration call. */
function checkPath(path: string): void {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new TypeError(
      `Invalid path ${JSON.stringify(path)}: paths start with "/"`,
    );
  }
}

/** The routing table of a server. */
export class Router {
  /** By `key` (the signed hash). */
  #routes = new Map<number, Route>();
  /** The route the last lookup found. */
  #last: Route | undefined = undefined;

  /**
   * The route for `path`, created if new.
   *
   * @throws {Error} when another registered path has the same hash.
   */
  route(path: string): Route {
    checkPath(path);
    const hash = fnv1a(path);
    const existing = this.#routes.get(hash | 0);
    if (existing) {
      if (existing.path !== path) {
        throw new Error(
          `Path ${path} has the same FNV-1a hash (0x${
            hash.toString(16).padStart(8, "0")
          }) as the registered path ${existing.path}: rename one of them`,
        );
      }
      return existing;
    }
    const route: Route = {
      path,
      bytes: encoder.encode(path),
      hash,
      key: hash | 0,
      options: {},
    };
    this.#routes.set(route.key, route);
    return route;
  }

  /** Every registered route. */
  routes(): IterableIterator<Route> {
    return this.#routes.values();
  }

  /**
   * The route registered under `hash`, if any.
   *
   * @param hash The path's FNV-1a hash, unsigned or as a signed 32-bit
   * integer (the request path passes the latter).
   */
  lookup(hash: number): Route | undefined {
    const key = hash | 0;
    // Most frames ask for the path the previous one did.
    const last = this.#last;
    if (last !== undefined && last.key === key) return last;
    const route = this.#routes.get(key);
    if (route !== undefined) this.#last = route;
    return route;
  }
}

/** Whether `len` bytes of `buf` at `off` spell `route`'s path exactly. */
export function pathMatches(
  route: Route,
  buf: Uint8Array,
  off: number,
  len: number,
): boolean {
  const bytes = route.bytes;
  if (bytes.length !== len) return false;
  for (let i = 0; i < len; i++) if (buf[off + i] !== bytes[i]) return false;
  return true;
}
