// The routing behind the HTTP face (server/http.ts): the WebSocket
// upgrade, the extra routes, and the files built into the package -- the
// browser client and the demo chat page (server/_static.ts, loaded at the
// first request for one of them).

import {
  type WebSocketByteStream,
  type WebSocketStats,
  websocketStream,
} from "../transport/websocket.ts";
import {
  DEFAULT_WEBSOCKET_PATH,
  type HttpHandlerOptions,
  type HttpRoute,
} from "./http.ts";
import type { FILES } from "./_static.ts";
import { type OriginPolicy, upgradePolicy } from "./_ws_policy.ts";

/** A built-in file: its name in server/_static.ts and its content type. */
interface StaticFile {
  name: keyof typeof FILES;
  type: string;
}

const JS = "text/javascript; charset=utf-8";
const HTML = "text/html; charset=utf-8";
const CLIENT: StaticFile = { name: "client", type: JS };
const PAGE: Readonly<Record<string, StaticFile>> = {
  "/": { name: "indexHtml", type: HTML },
  "/index.html": { name: "indexHtml", type: HTML },
  "/chat.css": { name: "chatCss", type: "text/css; charset=utf-8" },
  "/chat.js": { name: "chatJs", type: JS },
  "/chat_proto.js": { name: "chatProtoJs", type: JS },
};

/** server/_static.ts, imported at the first request for a built-in file. */
let files: Promise<typeof FILES> | undefined;

/**
 * Routes requests as {@link httpHandler} does, upgrading at the endpoint
 * with `upgrade`. The HTTP listener passes its own.
 */
export function router(
  upgrade: HttpRoute,
  options: HttpHandlerOptions,
): HttpRoute {
  const path = options.path ?? DEFAULT_WEBSOCKET_PATH;
  const routes = new Map(Object.entries(options.routes ?? {}));
  const demoPage = options.demoPage ?? true;
  const fallback = options.fallback ?? notFound;
  return (request, info) => {
    const { pathname } = new URL(request.url);
    if (pathname === path) return upgrade(request, info);
    const route = routes.get(pathname);
    if (route) return route(request, info);
    const file = pathname === "/nanorpc.js"
      ? CLIENT
      : demoPage
      ? PAGE[pathname]
      : undefined;
    if (file) return serveFile(request, file);
    return fallback(request, info);
  };
}

/**
 * Upgrades a request and hands the adapted socket to `open`. The peer's
 * address is read before the upgrade, which makes Deno's request unusable.
 */
export function upgrader(
  open: (stream: WebSocketByteStream) => void,
  options: {
    maxBufferedIn: number;
    stats: WebSocketStats;
    origins?: OriginPolicy;
    protocols?: readonly string[];
  },
): HttpRoute {
  const decide = upgradePolicy(options.origins, options.protocols);
  return (request, info) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(
        "This is a NanoRPC WebSocket endpoint: connect with new WebSocket(url) and send NanoRPC frames in binary messages\n",
        {
          status: 426,
          headers: { upgrade: "websocket", "content-type": "text/plain" },
        },
      );
    }
    const { refuse, protocol } = decide(request);
    if (refuse) return refuse;
    const addr = info?.remoteAddr;
    const remoteAddr = addr && "hostname" in addr
      ? { hostname: addr.hostname, port: addr.port }
      : undefined;
    const secure = new URL(request.url).protocol === "https:";
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      upgraded = Deno.upgradeWebSocket(request, { protocol });
    } catch (error) {
      return new Response(
        `Bad WebSocket upgrade: ${
          error instanceof Error ? error.message : String(error)
        }\n`,
        { status: 400, headers: { "content-type": "text/plain" } },
      );
    }
    open(websocketStream(upgraded.socket, {
      transport: secure ? "wss" : "ws",
      remoteAddr,
      maxBufferedIn: options.maxBufferedIn,
      stats: options.stats,
    }));
    return upgraded.response;
  };
}

function serveFile(
  request: Request,
  file: StaticFile,
): Response | Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Only GET and HEAD are allowed here\n", {
      status: 405,
      headers: { allow: "GET, HEAD", "content-type": "text/plain" },
    });
  }
  files ??= import("./_static.ts").then((m) => m.FILES, (err) => {
    files = undefined; // The next request tries again.
    throw err;
  });
  return files.then(async (loaded) => {
    const { length, etag } = await describe(file.name, loaded);
    const headers: Record<string, string> = {
      "content-type": file.type,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      etag,
    };
    // no-cache: browsers ask again on every load, and get 304 while the
    // package (and so the file) is the same.
    if (matches(request.headers.get("if-none-match"), etag)) {
      return new Response(null, { status: 304, headers });
    }
    if (request.method !== "HEAD") {
      return new Response(loaded[file.name], { headers });
    }
    // A HEAD answer states the length a GET would get (not 0).
    headers["content-length"] = String(length);
    return new Response(null, { headers });
  });
}

/** Length and entity tag of each built-in file, worked out at its first use. */
const described = new Map<string, Promise<{ length: number; etag: string }>>();

/** The UTF-8 length of built-in file `name` and an entity tag for it. */
function describe(
  name: keyof typeof FILES,
  loaded: typeof FILES,
): Promise<{ length: number; etag: string }> {
  let known = described.get(name);
  if (known === undefined) {
    const bytes = new TextEncoder().encode(loaded[name]);
    known = crypto.subtle.digest("SHA-256", bytes).then((digest) => {
      const hex = Array.from(
        new Uint8Array(digest, 0, 12),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      return { length: bytes.length, etag: `"${hex}"` };
    });
    described.set(name, known);
  }
  return known;
}

/** Whether an If-None-Match header names `etag` (or is `*`). */
function matches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

function notFound(request: Request): Response {
  return new Response(`Nothing at ${new URL(request.url).pathname}\n`, {
    status: 404,
    headers: { "content-type": "text/plain" },
  });
}
