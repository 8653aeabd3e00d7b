// The server's implementation of the Context handlers get.

import type { Context, ContextKind } from "./context.ts";
import type { Route } from "./_router.ts";
import type { Session } from "./session.ts";

export class RequestContext implements Context {
  readonly session: Session;
  readonly requestId: number;
  readonly kind: ContextKind;
  readonly route: Route;
  data: Uint8Array;
  body: Uint8Array | string | undefined = undefined;
  /**
   * For metrics: undefined while the request is timed with its session's
   * read (answered synchronously), else when its own clock started
   * (`performance.now()`). Never a number from the start: a field that
   * holds doubles costs every context a boxed number.
   */
  startedAt: number | undefined = undefined;
  /** What few requests use, allocated by the first that does. */
  #extra?: Extra = undefined;

  constructor(
    session: Session,
    route: Route,
    requestId: number,
    data: Uint8Array,
    kind: ContextKind,
  ) {
    this.session = session;
    this.route = route;
    this.requestId = requestId;
    this.data = data;
    this.kind = kind;
  }

  get path(): string {
    return this.route.path;
  }

  get pathHash(): number {
    return this.route.hash;
  }

  /** The request's trace span, when the server traces. */
  get span(): unknown {
    return this.#extra?.span;
  }

  set span(span: unknown) {
    if (span !== undefined || this.#extra) (this.#extra ??= {}).span = span;
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

/** The rarely used part of a {@link RequestContext}. */
interface Extra {
  span?: unknown;
  state?: Map<string, unknown>;
  abort?: AbortController;
  signal?: AbortSignal;
}
