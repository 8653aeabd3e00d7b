/**
 * Request id allocation: int32 ids counting up and wrapping around.
 *
 * @module
 */

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/**
 * Hands out request ids: counts up from `first`, wraps from 2147483647 to
 * -2147483648, skips 0 (what an absent `request_id` decodes as, so a
 * response without an id never matches a request) and skips every id the
 * caller says is still held.
 */
export class RequestIds {
  #next: number;

  constructor(first = 1) {
    if (!Number.isInteger(first) || first < INT32_MIN || first > INT32_MAX) {
      throw new RangeError("initialRequestId must be an int32");
    }
    this.#next = first;
  }

  /**
   * The next free id.
   *
   * @param held Whether an id is taken by a pending request or a live
   * subscription. Since at most a few million ids are ever held, a free one
   * is always found.
   */
  next(held: (id: number) => boolean): number {
    for (;;) {
      const id = this.#next;
      this.#next = id === INT32_MAX ? INT32_MIN : id + 1;
      if (id !== 0 && !held(id)) return id;
    }
  }
}
