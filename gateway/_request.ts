// The HTTP request as connect-es gets it, kept from three things connect-es
// does with what a client merely claims or garbles: it allocates a body's
// `content-length` (and a frame's length prefix) before the bytes arrive,
// it arms a timer with a timeout it refuses (Deno then prints a warning per
// request), and it answers `internal` for a GET message that is not base64.

import { base64Decode } from "@bufbuild/protobuf/wire";
import type {
  UniversalHandler,
  UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { NO_BODY } from "./_fetch.ts";

/** The limits a request is held to; they are the router's own. */
export interface RequestLimits {
  /** Largest request message, in bytes (the router's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** Longest client timeout, in ms (the router's `maxTimeoutMs`). */
  readonly maxTimeoutMs: number;
}

/**
 * The header and body to hand `handler` for `request`, or the answer when
 * `request` is a GET whose message is not base64 at all.
 */
export function universalRequest(
  request: Request,
  handler: UniversalHandler,
  limits: RequestLimits,
): Pick<UniversalServerRequest, "header" | "body"> | Response {
  if (request.method === "GET" && handler.allowedMethods.includes("GET")) {
    const refused = badBase64(new URL(request.url).searchParams);
    if (refused) return refused;
  }
  let header = request.headers;
  const edit = () =>
    header === request.headers ? header = new Headers(header) : header;
  // A length within the limit is only a claim: connect-es would allocate
  // it. A length over it is refused at once, so it stays.
  const length = Number(header.get("content-length") ?? NaN);
  if (length <= limits.readMaxBytes) edit().delete("content-length");
  for (
    const [name, ms] of [
      ["connect-timeout-ms", connectTimeoutMs],
      ["grpc-timeout", grpcTimeoutMs],
    ] as const
  ) {
    const value = header.get(name);
    if (value !== null && ms(value) > limits.maxTimeoutMs) {
      // Still refused (`invalid_argument`), but as malformed: no timer.
      edit().set(
        name,
        `${value} is longer than the gateway's limit of ${limits.maxTimeoutMs} ms`,
      );
    }
  }
  const body = request.body
    ? gathered(request.body, limits.readMaxBytes + ENVELOPE_SLACK)
    : NO_BODY;
  return { header, body };
}

/** An envelope's prefix, and an empty end-of-stream envelope after it. */
const ENVELOPE_SLACK = 10;

/**
 * `body`'s chunks, held back until it has ended or sent more than `limit`
 * bytes: a frame's length prefix then reaches connect-es with the bytes it
 * claims (sent already), so nothing is allocated for bytes not sent. Past
 * `limit` the chunks flow on, and connect-es refuses what is too large.
 */
async function* gathered(
  body: AsyncIterable<Uint8Array>,
  limit: number,
): AsyncGenerator<Uint8Array> {
  let held: Uint8Array[] | undefined = [];
  let size = 0;
  for await (const chunk of body) {
    if (!held) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    size += chunk.length;
    if (size > limit) {
      const flushed = held;
      held = undefined;
      yield* flushed;
    }
  }
  if (held) yield* held;
}

/** The ms of a well-formed `connect-timeout-ms`, else `NaN`. */
function connectTimeoutMs(value: string): number {
  return /^\d{1,10}$/.test(value) ? Number(value) : NaN;
}

const GRPC_UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** The ms of a well-formed `grpc-timeout`, else `NaN`. */
function grpcTimeoutMs(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  return match ? Number(match[1]) * GRPC_UNIT_MS[match[2]] : NaN;
}

/** Connect's answer to a GET whose `base64=1` message cannot be decoded. */
function badBase64(params: URLSearchParams): Response | undefined {
  if (params.get("base64") !== "1") return undefined;
  try {
    base64Decode(params.get("message") ?? "");
    return undefined;
  } catch {
    return Response.json({
      code: "invalid_argument",
      message:
        "The GET request's message is not base64 (base64=1): send it base64url-encoded, or drop base64=1 for a JSON message",
    }, { status: 400 });
  }
}
