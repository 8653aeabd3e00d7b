/**
 * The buffer between a subscription's updates and its async iterator: a
 * bounded ring that drops the oldest update when full, and the iterations
 * waiting for the next one.
 *
 * @module
 */

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

/** Updates waiting for the iterator; see the module doc. */
export class UpdateQueue<T> {
  /** Updates dropped because the buffer was full. */
  dropped = 0;
  readonly #capacity: number;
  #ring: (T | undefined)[] = [];
  #head = 0;
  #size = 0;
  #waiters: Waiter<T>[] = [];
  #closed = false;
  #error: Error | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Hands `update` to a waiting iteration, or buffers it. */
  push(update: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve({ done: false, value: update });
    if (this.#size === this.#capacity) {
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#capacity;
      this.#size--;
      this.dropped++;
    }
    this.#ring[(this.#head + this.#size) % this.#capacity] = update;
    this.#size++;
  }

  /**
   * The next buffered update; once closed and drained, the end (or the
   * error it was closed with).
   */
  next(): Promise<IteratorResult<T>> {
    if (this.#size > 0) {
      const value = this.#ring[this.#head] as T;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#capacity;
      this.#size--;
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed) {
      if (this.#error) return Promise.reject(this.#error);
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /**
   * No more updates will come: buffered ones are still yielded, then the
   * iteration ends, or throws `error`. A later call may add the error.
   */
  close(error?: Error): void {
    this.#closed = true;
    this.#error ??= error;
    for (const waiter of this.#waiters.splice(0)) {
      if (this.#error) waiter.reject(this.#error);
      else waiter.resolve({ done: true, value: undefined });
    }
  }
}
