/**
 * The subscription state machine. Subscribe and unsubscribe are both
 * answered by a RESPONSE with the subscription's request id, so the acks
 * expected on the current connection are kept in order in `acks` and each
 * RESPONSE is matched to the oldest one.
 *
 * @module
 */

import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import type { OutFrame } from "./_call.ts";
import {
  ConnectionClosedError,
  errorFromStatus,
  TimeoutError,
} from "./errors.ts";
import type {
  ClientSubscription,
  SubscribeOptions,
  SubscriptionState,
} from "./subscription.ts";

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  /** Queues a frame on the current connection; false when disconnected. */
  send(frame: OutFrame): boolean;
  /** Frees the subscription's request id. */
  release(subscription: SubscriptionImpl<unknown>): void;
}

/** The path part of a frame, as the client computed it. */
export interface PathFields {
  pathKind: number;
  pathHash: number;
  path: Uint8Array | undefined;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

const EMPTY = new Uint8Array(0);

export class SubscriptionImpl<T> implements ClientSubscription<T> {
  readonly id: number;
  readonly path: string;
  readonly filter: Uint8Array;
  state: SubscriptionState = "subscribing";
  dropped = 0;
  discarded = 0;
  error: Error | undefined;
  /** A SUBSCRIBE went to the current connection. */
  sent = false;
  /** Acks expected on the current connection, oldest first. */
  acks: ("subscribe" | "unsubscribe")[] = [];
  /** Settles with the first subscribe ack. */
  readonly ready: Promise<ClientSubscription<T>>;
  #acked = false;
  #resolveReady!: (subscription: ClientSubscription<T>) => void;
  #rejectReady!: (error: unknown) => void;
  #unsubscribed: Promise<void> | undefined;
  #resolveUnsubscribed = () => {};
  #rejectUnsubscribed: (error: unknown) => void = () => {};
  readonly #host: SubscriptionHost;
  readonly #pathFields: PathFields;
  readonly #decode: (bytes: Uint8Array) => T;
  readonly #timeout: number;
  readonly #capacity: number;
  readonly #onUpdate: SubscribeOptions<T>["onUpdate"];
  readonly #onError: SubscribeOptions<T>["onError"];
  readonly #signal: AbortSignal | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Ring buffer of updates for the iterator. */
  #ring: (T | undefined)[] = [];
  #head = 0;
  #size = 0;
  #waiters: Waiter<T>[] = [];

  constructor(
    host: SubscriptionHost,
    id: number,
    path: string,
    pathFields: PathFields,
    filter: Uint8Array,
    decode: (bytes: Uint8Array) => T,
    timeout: number,
    options: SubscribeOptions<T>,
  ) {
    this.#host = host;
    this.id = id;
    this.path = path;
    this.#pathFields = pathFields;
    this.filter = filter;
    this.#decode = decode;
    this.#timeout = timeout;
    this.#capacity = Math.max(1, options.bufferSize ?? 1024);
    this.#onUpdate = options.onUpdate;
    this.#onError = options.onError;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.#arm(() =>
      this.#abort(
        new TimeoutError(
          `No ack for the subscription to ${path} within ${timeout} ms; raise the timeout or check the server`,
        ),
      )
    );
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The connection is up: (re)send SUBSCRIBE. */
  connected(): void {
    if (this.state === "closed" || this.state === "unsubscribing") return;
    this.sent = this.#host.send(
      this.#frame(RequestType.SUBSCRIBE, this.filter),
    );
    if (this.sent) this.acks.push("subscribe");
  }

  /** The connection is gone; resubscribe later unless `error` is given. */
  disconnected(error?: Error): void {
    this.sent = false;
    this.acks = [];
    if (this.state === "unsubscribing") this.finish();
    else if (error) this.finish(error);
    else if (this.state === "active") this.state = "resubscribing";
  }

  /** A response with this subscription's id arrived. */
  receive(type: number, status: number, message: string, data: Uint8Array) {
    if (type === ResponseType.UPDATE) return this.#update(data);
    const ack = this.acks.shift();
    if (ack === "unsubscribe") return this.finish();
    if (ack !== "subscribe" || this.state === "unsubscribing") return;
    if (status !== Status.OK) {
      return this.finish(errorFromStatus(status, message));
    }
    this.state = "active";
    if (!this.#acked) {
      this.#acked = true;
      clearTimeout(this.#timer);
      this.#resolveReady(this);
    }
  }

  unsubscribe(): Promise<void> {
    if (this.#unsubscribed) return this.#unsubscribed;
    if (this.state === "closed") return Promise.resolve();
    this.state = "unsubscribing";
    this.#unsubscribed = new Promise<void>((resolve, reject) => {
      this.#resolveUnsubscribed = resolve;
      this.#rejectUnsubscribed = reject;
    });
    this.#wake();
    if (this.sent && this.#host.send(this.#frame(RequestType.REQUEST, EMPTY))) {
      this.acks.push("unsubscribe");
      this.#arm(() =>
        this.#rejectUnsubscribed(
          new TimeoutError(
            `No ack for unsubscribing from ${this.path} within ${this.#timeout} ms; the subscription is over on this side`,
          ),
        )
      );
    } else {
      this.finish();
    }
    return this.#unsubscribed;
  }

  /** Ends the subscription for good and frees its id. */
  finish(error?: Error): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.error ??= error;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#host.release(this as SubscriptionImpl<unknown>);
    this.#rejectReady(
      this.error ??
        new ConnectionClosedError(
          `Client closed before the subscription to ${this.path} was acknowledged`,
        ),
    );
    this.#resolveUnsubscribed();
    this.#wake();
    if (this.error && this.#acked) this.#onError?.(this.error);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.#next(),
      // Breaking out of `for await` should not wait for the server.
      return: () => {
        this.unsubscribe().catch(() => {});
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe();
  }

  #frame(type: number, data: Uint8Array): OutFrame {
    return { id: this.id, type, data, ...this.#pathFields };
  }

  #arm(onTimeout: () => void): void {
    clearTimeout(this.#timer);
    if (this.#timeout > 0 && this.#timeout < Infinity) {
      this.#timer = setTimeout(onTimeout, this.#timeout);
    }
  }

  #onAbort = () => {
    this.#abort(this.#acked ? undefined : this.#signal?.reason);
  };

  /** Gives up: rejects a pending subscribe with `error`, then unsubscribes. */
  #abort(error: unknown): void {
    if (!this.#acked && error !== undefined) {
      this.#rejectReady(error);
      this.#acked = true;
    }
    this.unsubscribe().catch(() => {});
  }

  #update(data: Uint8Array): void {
    if (this.state === "unsubscribing" || this.state === "closed") {
      this.discarded++;
      return;
    }
    let update: T;
    try {
      update = this.#decode(data);
    } catch (error) {
      this.error ??= error instanceof Error ? error : new Error(String(error));
      this.unsubscribe().catch(() => {});
      return;
    }
    if (this.#onUpdate) {
      try {
        this.#onUpdate(update, this);
      } catch (error) {
        reportError(error);
      }
      return;
    }
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

  #next(): Promise<IteratorResult<T>> {
    if (this.#size > 0) {
      const value = this.#ring[this.#head] as T;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#capacity;
      this.#size--;
      return Promise.resolve({ done: false, value });
    }
    if (this.state === "unsubscribing" || this.state === "closed") {
      if (this.error) return Promise.reject(this.error);
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /** Ends waiting iterations once no more updates will come. */
  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) {
      if (this.error) waiter.reject(this.error);
      else waiter.resolve({ done: true, value: undefined });
    }
  }
}
