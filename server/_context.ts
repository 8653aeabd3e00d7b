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
  /** When the request started, for metrics (`performance.now()`). */
  startedAt = 0;
  /** The request's trace span, when the server traces. */
  span: unknown = undefined;
  #state?: Map<string, unknown>;
  #abort?: AbortController;
  #signal?: AbortSignal;

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

  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#signal ??= AbortSignal.any([
      this.#abort.signal,
      this.session.signal,
    ]);
  }

  /** Ends {@link signal} with `reason` (the time limit passed). */
  abort(reason: unknown): void {
    this.#abort?.abort(reason);
  }

  copyData(): Uint8Array {
    return this.data.slice();
  }

  get state(): Map<string, unknown> {
    return this.#state ??= new Map();
  }
}
