// The server's implementation of the Context handlers get.

import type { Context, ContextKind } from "./context.ts";
import type { Route } from "./_router.ts";
import type { Session } from "./session.ts";

/**
 * The context of a REQUEST. Every request allocates one, so it holds only
 * what every request uses (72 bytes): its kind comes from the class
 * ({@link SubscribeContext}), and what few requests use is allocated by
 * the first that does.
 */
export class RequestContext implements Context {
  readonly session: Session;
  readonly requestId: number;
  readonly route: Route;
  data: Uint8Array;
  body: Uint8Array | string | undefined = undefined;
  #extra?: Extra = undefined;

  constructor(
    session: Session,
    route: Route,
    requestId: number,
    data: Uint8Array,
  ) {
    this.session = session;
    this.route = route;
    this.requestId = requestId;
    this.data = data;
  }

  get kind(): ContextKind {
    return "request";
  }

  get path(): string {
    return this.route.path;
  }

  get pathHash(): number {
    return this.route.hash;
  }

  /**
   * For metrics: undefined while the request is timed with its session's
   * read (answered synchronously), else when its own clock started
   * (`performance.now()`).
   */
  get startedAt(): number | undefined {
    return this.#extra?.startedAt;
  }

  set startedAt(at: number | undefined) {
    if (at !== undefined || this.#extra) (this.#extra ??= {}).startedAt = at;
  }

  /**
   * When the server traces: the OpenTelemetry context whose active span is
   * the request's (its handlers run in it).
   */
  get trace(): unknown {
    return this.#extra?.trace;
  }

  set trace(trace: unknown) {
    if (trace !== undefined || this.#extra) (this.#extra ??= {}).trace = trace;
  }

  get signal(): AbortSignal {
    const extra = this.#extra ??= {};
    extra.abort ??= new AbortController();
    return extra.signal ??= AbortSignal.any([
      extra.abort.signal,
      this.session.signal,
    ]);
  }

  /** Ends {@link signal} with `reason` (the time limit passed). */
  abort(reason: unknown): void {
    this.#extra?.abort?.abort(reason);
  }

  copyData(): Uint8Array {
    return this.data.slice();
  }

  get state(): Map<string, unknown> {
    return (this.#extra ??= {}).state ??= new Map();
  }
}

/** The context of a SUBSCRIBE (`data` is its filter). */
export class SubscribeContext extends RequestContext {
  override get kind(): ContextKind {
    return "subscribe";
  }
}

/** A new context of `kind`. */
export function newContext(
  kind: ContextKind,
  session: Session,
  route: Route,
  requestId: number,
  data: Uint8Array,
): RequestContext {
  return kind === "request"
    ? new RequestContext(session, route, requestId, data)
    : new SubscribeContext(session, route, requestId, data);
}

/** The rarely used part of a {@link RequestContext}. */
interface Extra {
  startedAt?: number;
  trace?: unknown;
  state?: Map<string, unknown>;
  abort?: AbortController;
  signal?: AbortSignal;
}
