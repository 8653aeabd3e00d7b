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

  /** Slots the ring holds now (it grows with the backlog), for tests. */
  get slots(): number {
    return this.#ring.length;
  }

  /** Hands `update` to a waiting iteration, or buffers it. */
  push(update: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve({ done: false, value: update });
    if (this.#size === this.#capacity) {
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#ring.length;
      this.#size--;
      this.dropped++;
    }
    if (this.#size === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#size) % this.#ring.length] = update;
    this.#size++;
  }

  /**
   * Doubles the ring, up to the capacity, so it holds the largest backlog
   * seen, not every update ever buffered (an unbounded `Infinity`
   * capacity included).
   */
  #grow(): void {
    const old = this.#ring;
    const ring = new Array<T | undefined>(
      Math.min(this.#capacity, Math.max(16, old.length * 2)),
    );
    for (let i = 0; i < this.#size; i++) {
      ring[i] = old[(this.#head + i) % old.length];
    }
    this.#ring = ring;
    this.#head = 0;
  }

  /**
   * The next buffered update; once closed and drained, the end (or the
   * error it was closed with).
   */
  next(): Promise<IteratorResult<T>> {
    if (this.#size > 0) {
      const value = this.#ring[this.#head] as T;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#ring.length;
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
