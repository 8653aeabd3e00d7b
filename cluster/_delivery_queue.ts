/**
 * A bounded first-in first-out buffer between a link that receives fast
 * (a NATS socket) and local subscribers that may be slow. Items beyond
 * the bounds are refused, so the caller drops and counts them.
 *
 * The queue drains itself right after the task that filled it (a
 * microtask, so a quiet link adds no latency) for at most `budgetMs`, and
 * continues from a timer when items remain, so that a burst from the link
 * never starves the node's own sockets. A timer is the continuation
 * because Deno polls I/O only when its loop parks or every 61 ready tasks:
 * chains of `MessageChannel` or `setImmediate` hops starve sockets.
 *
 * @module
 */

/** Bounds and the consumer of a {@link DeliveryQueue}. */
export interface DeliveryQueueOptions<T> {
  /** Most items held at once. */
  maxCount: number;
  /** Most bytes (as the caller measures them) held at once. */
  maxBytes: number;
  /** Milliseconds one drain may run before it yields; 5 by default. */
  budgetMs?: number;
  /** Called with each item, in order. Must not throw. */
  deliver(item: T): void;
}

/** A bounded FIFO that delivers from its own macrotasks. */
export class DeliveryQueue<T> {
  #items: (T | undefined)[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #maxCount: number;
  #maxBytes: number;
  #budget: number;
  #deliver: (item: T) => void;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** @param options Bounds and the consumer. */
  constructor(options: DeliveryQueueOptions<T>) {
    this.#maxCount = options.maxCount;
    this.#maxBytes = options.maxBytes;
    this.#budget = options.budgetMs ?? 5;
    this.#deliver = options.deliver;
  }

  /** Items waiting. */
  get count(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends `item` unless that would pass a bound or the queue is closed.
   *
   * @returns Whether the item was taken.
   */
  push(item: T, bytes: number): boolean {
    if (
      this.#closed || this.count >= this.#maxCount ||
      this.#bytes + bytes > this.#maxBytes
    ) return false;
    this.#items.push(item);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
    return true;
  }

  #drain(): void {
    this.#scheduled = false;
    this.#timer = undefined;
    if (this.#closed) return;
    const until = performance.now() + this.#budget;
    let n = 0;
    try {
      while (this.#head < this.#items.length) {
        const item = this.#items[this.#head] as T;
        this.#items[this.#head] = undefined;
        this.#bytes -= this.#sizes[this.#head++];
        this.#deliver(item);
        if ((++n & 63) === 0 && performance.now() > until) break;
      }
    } finally {
      this.#settle();
    }
  }

  /** Compacts the buffer and wakes the next drain if items remain. */
  #settle(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#sizes = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    if (this.count > 0 && !this.#closed) {
      this.#scheduled = true;
      this.#timer = setTimeout(() => this.#drain(), 0);
    }
  }

  /**
   * Stops delivering and lets go of what waits.
   *
   * @returns How many items were discarded.
   */
  close(): number {
    if (this.#closed) return 0;
    this.#closed = true;
    const discarded = this.count;
    this.#items = [];
    this.#sizes = [];
    this.#head = this.#bytes = 0;
    clearTimeout(this.#timer);
    return discarded;
  }
}
