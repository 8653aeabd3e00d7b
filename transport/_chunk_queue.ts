// Received chunks waiting to be read, for the adapters whose transport
// pushes data (WebSocket messages, node:net 'data' events) behind the
// pull-style ByteStream.read. Each chunk counts a fixed cost beyond its
// bytes, so that a peer sending tiny pieces fills a bound with pieces, not
// only with bytes (a chunk's buffer and view cost a few hundred bytes).

const EMPTY = new Uint8Array(0);

/** A FIFO of byte chunks read into callers' buffers. */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  #first = 0;
  #offset = 0;
  #bytes = 0;
  #charged = 0;
  readonly #cost: number;

  /** @param cost What each chunk counts for beyond its bytes. */
  constructor(cost: number) {
    this.#cost = cost;
  }

  /** Bytes queued and not read yet. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes queued plus each queued chunk's cost: what a bound compares. */
  get charged(): number {
    return this.#charged;
  }

  /** What a chunk counts for beyond its bytes. */
  get cost(): number {
    return this.#cost;
  }

  /** Queues `chunk` (not copied). */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    this.#charged += chunk.length + this.#cost;
  }

  /** Moves queued bytes into `buffer`, oldest first; returns how many. */
  take(buffer: Uint8Array): number {
    const chunks = this.#chunks;
    let n = 0;
    while (n < buffer.length && this.#first < chunks.length) {
      const chunk = chunks[this.#first];
      const part = Math.min(chunk.length - this.#offset, buffer.length - n);
      buffer.set(chunk.subarray(this.#offset, this.#offset + part), n);
      n += part;
      this.#offset += part;
      if (this.#offset === chunk.length) {
        chunks[this.#first++] = EMPTY;
        this.#offset = 0;
        this.#charged -= this.#cost;
      }
    }
    this.#bytes -= n;
    this.#charged -= n;
    if (this.#first === chunks.length) this.clear();
    else if (this.#first > 64 && this.#first * 2 > chunks.length) {
      this.#chunks = chunks.slice(this.#first);
      this.#first = 0;
    }
    return n;
  }

  /** Forgets everything queued. */
  clear(): void {
    this.#chunks = [];
    this.#first =
      this.#offset =
      this.#bytes =
      this.#charged =
        0;
  }
}
