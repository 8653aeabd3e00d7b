// Updates a session's code sends for a subscription whose SUBSCRIBE is
// still being handled (middleware sending a snapshot before the ack): they
// wait, bounded, and go out right after the OK ack, so no UPDATE overtakes
// its ack; a SUBSCRIBE that is refused drops them.

export class EarlyUpdates {
  readonly #byId = new Map<number, Uint8Array[]>();
  readonly #maxBytes: number;
  #bytes = 0;

  /** `maxBytes`: what all the waiting updates may hold together. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** SUBSCRIBEs being handled now. */
  get size(): number {
    return this.#byId.size;
  }

  /** A SUBSCRIBE with `id` is being handled. */
  open(id: number): void {
    if (!this.#byId.has(id)) this.#byId.set(id, []);
  }

  /** Whether a SUBSCRIBE with `id` is being handled. */
  has(id: number): boolean {
    return this.#byId.has(id);
  }

  /** Keeps `data` for `id`; false (not kept) beyond the bound. */
  hold(id: number, data: Uint8Array): boolean {
    const held = this.#byId.get(id);
    if (!held || this.#bytes + data.length > this.#maxBytes) return false;
    held.push(data);
    this.#bytes += data.length;
    return true;
  }

  /** Forgets `id`, returning what waited for it. */
  take(id: number): Uint8Array[] | undefined {
    const held = this.#byId.get(id);
    if (!held) return undefined;
    this.#byId.delete(id);
    for (const data of held) this.#bytes -= data.length;
    return held;
  }
}
