/**
 * Handlers and topics registered by path, looked up by the path's FNV-1a
 * hash. A path whose hash collides with another registered path is a
 * registration error, so a hash always names exactly one path.
 *
 * @module
 */

import { fnv1a } from "../wasm/wire.ts";
import type { Context } from "./context.ts";
import type { Topic } from "./topic.ts";

/** What a handler may return: data to answer with, text, or nothing. */
export type HandlerResult = Uint8Array | string | void | undefined;

/**
 * Answers a request. `ctx.data` is a view valid until the returned value
 * (or promise) settles; copy it (`ctx.copyData()`) to keep it longer.
 * Throw a `NanoRpcError` to answer with its status.
 */
export type Handler = (
  ctx: Context,
) => HandlerResult | Promise<HandlerResult>;

/** How a handler runs. */
export interface HandleOptions {
  /**
   * Let this handler run alongside the session's later requests instead of
   * holding them until it settles. Its answer may then overtake earlier
   * ones, and its `ctx.data` is a copy. Default `false`.
   */
  concurrent?: boolean;
  /** Time limit in milliseconds for this handler; overrides the server's. */
  timeout?: number;
}

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
  topic?: Topic;
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

/**
 * The routing table of a server.
 *
 * @example
 * ```ts
 * import { fnv1a, Router } from "@nanorpc/nanorpc";
 *
 * const router = new Router();
 * router.route("/echo").handler = (ctx) => ctx.data;
 * console.log(router.lookup(fnv1a("/echo"))?.path); // "/echo"
 * ```
 */
export class Router {
  #routes = new Map<number, Route>();

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
    return route;
  }

  /** The route registered under `hash`, if any. */
  lookup(hash: number): Route | undefined {
    return this.#routes.get(hash);
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
