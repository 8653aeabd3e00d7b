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
  #routes = new Map<number, Route>();
  /** The last lookup (-1: none; hashes are unsigned). */
  #lastHash = -1;
  #lastRoute: Route | undefined;

  /**
   * The route for `path`, created if new.
   *
   * @throws {Error} when another registered path has the same hash.
   */
  route(path: string): Route {
    checkPath(path);
    const hash = fnv1a(path);
    const existing = this.#routes.get(hash);
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
      options: {},
    };
    this.#routes.set(hash, route);
    this.#lastHash = -1;
    return route;
  }

  /** Every registered route. */
  routes(): IterableIterator<Route> {
    return this.#routes.values();
  }

  /** The route registered under `hash`, if any. */
  lookup(hash: number): Route | undefined {
    // Most reads ask for the path the previous one did.
    if (hash === this.#lastHash) return this.#lastRoute;
    const route = this.#routes.get(hash);
    this.#lastHash = hash;
    this.#lastRoute = route;
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
