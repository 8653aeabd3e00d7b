// Who may open a WebSocket at the endpoint, and in which subprotocol: the
// checks made on an upgrade request before it is upgraded (server/_http.ts).

/**
 * Which web pages may open a socket: their origins, or a function deciding
 * from the upgrade's Origin header (`null` when it has none). See
 * `WebSocketHandlerOptions.origins`.
 *
 * @example
 * ```ts ignore
 * const origins: OriginPolicy = (origin) =>
 *   origin === null || origin.endsWith(".game.example");
 * ```
 */
export type OriginPolicy =
  | readonly string[]
  | ((origin: string | null, request: Request) => boolean);

/** The subprotocol the endpoint speaks unless told otherwise. */
export const DEFAULT_PROTOCOLS: readonly string[] = ["nanorpc"];

/**
 * What an upgrade request gets: a refusal to send instead of upgrading, or
 * the subprotocol to answer with (undefined: the client offered none).
 */
export type UpgradeDecision =
  | { refuse: Response; protocol?: undefined }
  | { refuse?: undefined; protocol: string | undefined };

/**
 * Checks `origins` and `protocols` once and returns the function that
 * decides each upgrade request.
 *
 * @throws {TypeError} When an origin is not `scheme://host[:port]` or a
 * subprotocol is not a token RFC 6455 allows.
 */
export function upgradePolicy(
  origins: OriginPolicy | undefined,
  protocols: readonly string[] = DEFAULT_PROTOCOLS,
): (request: Request) => UpgradeDecision {
  const allowed = allowOrigin(origins);
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw new TypeError(
        `protocols: ${
          JSON.stringify(protocol)
        } is not a WebSocket subprotocol name (letters, digits and !#$%&'*+-.^_\`|~)`,
      );
    }
  }
  return (request) => {
    const origin = request.headers.get("origin");
    if (!allowed(origin, request)) {
      return {
        refuse: text(
          403,
          `Origin ${origin} may not open a socket here\n`,
        ),
      };
    }
    const offered = request.headers.get("sec-websocket-protocol");
    if (offered === null) return { protocol: undefined };
    const offers = offered.split(",").map((p) => p.trim());
    const protocol = protocols.find((p) => offers.includes(p));
    if (protocol !== undefined) return { protocol };
    return {
      refuse: text(
        400,
        `This endpoint speaks the subprotocol${
          protocols.length === 1 ? "" : "s"
        } ${protocols.join(", ") || "(none)"}; offered: ${offered}\n`,
      ),
    };
  };
}

/** RFC 7230's token: what a subprotocol name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function allowOrigin(
  origins: OriginPolicy | undefined,
): (origin: string | null, request: Request) => boolean {
  if (origins === undefined) return () => true;
  if (typeof origins === "function") return origins;
  const set = new Set(origins.map((entry) => {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      // Reported below.
    }
    const bare = url && url.pathname === "/" && !url.search && !url.hash &&
      !url.username && !url.password && !entry.endsWith("#");
    if (!url || !bare || url.origin === "null") {
      throw new TypeError(
        `origins: ${
          JSON.stringify(entry)
        } is not an origin; write scheme://host[:port], e.g. "https://game.example"`,
      );
    }
    return url.origin;
  }));
  // No Origin: not a browser (browsers send one with every upgrade).
  return (origin) => origin === null || set.has(normalized(origin));
}

/**
 * `origin` as browsers spell it (lower case, no default port, no slash),
 * for clients that are not browsers and spell it otherwise; unparsable
 * origins ("null") as they are.
 */
function normalized(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === "null" ? origin : url.origin;
  } catch {
    return origin;
  }
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain" },
  });
}
