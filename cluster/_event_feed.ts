/**
 * A bounded fan-out of events to async iterators: each reader gets its own
 * queue of at most `limit` events; when a reader falls behind, its oldest
 * events are dropped (and counted in {@link EventFeed.lost}).
 *
 * @module
 */

interface Reader<T> {
  queue: T[];
  wake?: () => void;
}

/** Events to any number of async iterators, each bounded. */
export class EventFeed<T> {
  #readers = new Set<Reader<T>>();
  #limit: number;
  #ended = false;
  /** Events dropped because a reader lagged. */
  lost = 0;

  /** @param limit Most events waiting per reader. */
  constructor(limit = 256) {
    this.#limit = limit;
  }

  /** Hands `event` to every reader. */
  push(event: T): void {
    if (this.#ended) return;
    for (const reader of this.#readers) {
      if (reader.queue.length >= this.#limit) {
        reader.queue.shift();
        this.lost++;
      }
      reader.queue.push(event);
      reader.wake?.();
    }
  }

  /** Ends every iterator once it has read what waits. */
  end(): void {
    this.#ended = true;
    for (const reader of this.#readers) reader.wake?.();
  }

  /**
   * Events pushed from this call on, until {@link end} or until `signal`
   * aborts.
   *
   * @param signal Stops the iteration.
   */
  iterate(signal?: AbortSignal): AsyncIterableIterator<T> {
    const reader: Reader<T> = { queue: [] };
    this.#readers.add(reader);
    return this.#read(reader, signal);
  }

  async *#read(
    reader: Reader<T>,
    signal?: AbortSignal,
  ): AsyncIterableIterator<T> {
    const onAbort = () => reader.wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      while (!signal?.aborted) {
        if (reader.queue.length > 0) {
          yield reader.queue.shift() as T;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => reader.wake = resolve);
        reader.wake = undefined;
      }
    } finally {
      this.#readers.delete(reader);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
