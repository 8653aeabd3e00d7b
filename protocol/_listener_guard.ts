// Event listeners that cannot end the process. An EventTarget reports an
// error thrown by a listener as an uncaught exception, which ends a Deno
// process; the server's and the client's events (sessionopen, connect ...)
// are dispatched from deep inside their machinery, so one faulty listener
// would take everything down. Each listener is added wrapped, and the
// wrapper is remembered so removeEventListener still finds it.

/** Told when a listener of `type` threw or its promise rejected. */
export type ListenerErrorSink = (error: unknown, type: string) => void;

type Listener = EventListenerOrEventListenerObject;

export class ListenerGuard {
  readonly #onError: ListenerErrorSink;
  /** listener -> `${capture}${type}` -> the wrapper added in its place. */
  readonly #wrappers = new WeakMap<Listener, Map<string, EventListener>>();

  constructor(onError: ListenerErrorSink) {
    this.#onError = onError;
  }

  /** The wrapper to add in place of `listener` (the same one every time). */
  wrap(
    type: string,
    listener: Listener | null,
    options?: boolean | EventListenerOptions,
  ): EventListener | null {
    if (listener === null) return null;
    const key = keyOf(type, options);
    let byKey = this.#wrappers.get(listener);
    const known = byKey?.get(key);
    if (known) return known;
    const onError = this.#onError;
    const wrapper = function (this: unknown, event: Event): void {
      try {
        const result: unknown = typeof listener === "function"
          ? listener.call(this, event)
          : listener.handleEvent(event);
        if (result instanceof Promise) {
          result.catch((err) => report(onError, err, type));
        }
      } catch (err) {
        report(onError, err, type);
      }
    };
    if (!byKey) this.#wrappers.set(listener, byKey = new Map());
    byKey.set(key, wrapper);
    return wrapper;
  }

  /** What to remove for `listener`: its wrapper, which is forgotten. */
  unwrap(
    type: string,
    listener: Listener | null,
    options?: boolean | EventListenerOptions,
  ): Listener | null {
    if (listener === null) return null;
    const byKey = this.#wrappers.get(listener);
    const key = keyOf(type, options);
    const wrapper = byKey?.get(key);
    if (!wrapper) return listener;
    byKey!.delete(key);
    return wrapper;
  }
}

function keyOf(
  type: string,
  options: boolean | EventListenerOptions | undefined,
): string {
  const capture = typeof options === "boolean" ? options : !!options?.capture;
  return `${capture ? 1 : 0}${type}`;
}

function report(onError: ListenerErrorSink, err: unknown, type: string) {
  try {
    onError(err, type);
  } catch {
    // The reporter failed too: the event machinery still goes on.
  }
}
