// Views of the data of decoded frames, made without copying. A server
// reading into one buffer sees the same layout read after read (the same
// batch of requests), so the frame at index i of a decode often has its
// data where the frame at index i of the last decode had it: a reusing
// cursor hands out the view it made then.

/** Frames of a decode whose views are kept for reuse. */
const SLOTS = 16;
const NONE = new ArrayBuffer(0);

/** Makes (and may reuse) the views of one cursor's inputs. */
export class DataViews {
  /** The input last viewed, and its buffer and offset. */
  #input: Uint8Array | undefined = undefined;
  #buffer: ArrayBufferLike = NONE;
  #base = 0;
  /** Views made, by frame index, when reusing; all of `#keptOf`. */
  readonly #kept: (Uint8Array | undefined)[] | undefined;
  #keptOf: ArrayBufferLike = NONE;

  constructor(reuse: boolean) {
    this.#kept = reuse ? new Array(SLOTS).fill(undefined) : undefined;
  }

  /**
   * A view of `length` bytes at `offset` of `input`, for the frame at
   * `index` of its decode.
   */
  view(
    input: Uint8Array,
    index: number,
    offset: number,
    length: number,
  ): Uint8Array {
    // A view by constructor over a buffer read once per input: about 10 ns
    // where subarray (species lookup) or input.buffer each cost 6 more.
    if (input !== this.#input) {
      this.#input = input;
      this.#buffer = input.buffer;
      this.#base = input.byteOffset;
    }
    const buffer = this.#buffer;
    const at = this.#base + offset;
    const kept = this.#kept;
    if (kept === undefined || index >= SLOTS) {
      return new Uint8Array(buffer, at, length);
    }
    if (this.#keptOf !== buffer) {
      kept.fill(undefined);
      this.#keptOf = buffer;
    }
    const view = kept[index];
    if (
      view !== undefined && view.byteOffset === at &&
      view.byteLength === length
    ) {
      return view;
    }
    return kept[index] = new Uint8Array(buffer, at, length);
  }

  /** Drops the input, and the kept views unless they view `keep`. */
  forget(keep: ArrayBufferLike | undefined): void {
    this.#input = undefined;
    this.#buffer = NONE;
    this.#base = 0;
    if (this.#kept === undefined || this.#keptOf === keep) return;
    this.#kept.fill(undefined);
    this.#keptOf = NONE;
  }
}
