/**
 * Updates of held subscriptions, gathered per home node during one turn of
 * the event loop and sent as one message per node: a publish that reaches
 * 10,000 subscribers of another node travels once, with their keys. The
 * same data (by identity) is carried once per batch.
 *
 * @module
 */

import { encodeUpdates } from "./_rpc_codec.ts";

interface Pending {
  datas: Uint8Array[];
  index: Map<Uint8Array, number>;
  pairs: number[];
  bytes: number;
}

/** Gathers updates per node; sends each node's batch at the end of the turn. */
export class UpdateBatcher {
  #from: string;
  #send: (node: string, message: Uint8Array, updates: number) => void;
  #maxBytes: number;
  #pending = new Map<string, Pending>();
  #scheduled = false;

  /**
   * @param from This node's id.
   * @param send Publishes one batch (`updates` pairs) to `node`.
   * @param maxBytes A batch is sent as soon as it holds this many bytes.
   */
  constructor(
    from: string,
    send: (node: string, message: Uint8Array, updates: number) => void,
    maxBytes: number,
  ) {
    this.#from = from;
    this.#send = send;
    this.#maxBytes = maxBytes;
  }

  /** Adds the update `data` for the subscription `key` of `node`. */
  add(node: string, key: number, data: Uint8Array): void {
    let p = this.#pending.get(node);
    if (!p) {
      this.#pending.set(
        node,
        p = { datas: [], index: new Map(), pairs: [], bytes: 0 },
      );
    }
    let i = p.index.get(data);
    if (i === undefined) {
      i = p.datas.length;
      p.datas.push(data);
      p.index.set(data, i);
      p.bytes += data.length + 4;
    }
    p.pairs.push(key, i);
    p.bytes += 8;
    if (p.bytes >= this.#maxBytes) {
      this.#pending.delete(node);
      this.#emit(node, p);
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Sends every pending batch now. */
  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    if (pending.size === 0) return;
    this.#pending = new Map();
    for (const [node, p] of pending) this.#emit(node, p);
  }

  #emit(node: string, p: Pending): void {
    const message = encodeUpdates({
      from: this.#from,
      datas: p.datas,
      pairs: p.pairs,
    });
    this.#send(node, message, p.pairs.length / 2);
  }
}
