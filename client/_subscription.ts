/**
 * The subscription state machine. Subscribe and unsubscribe are both
 * answered by a RESPONSE with the subscription's request id, so the acks
 * expected on the current connection are kept in order and each RESPONSE
 * is matched to the oldest one.
 *
 * A subscription ends for its caller (state `closed`) before it lets go of
 * its request id: the id stays held while an ack is still owed on the
 * current connection, so a late ack or update never reaches a newer
 * request.
 *
 * @module
 */

import { consoleError } from "../protocol/_console_text.ts";
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
import { timeLimit } from "./_timer.ts";
import { UpdateQueue } from "./_updates.ts";

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  /** Queues a frame on the current connection; false when disconnected. */
  send(frame: OutFrame): boolean;
  /** Frees the subscription's request id. */
  release(subscription: SubscriptionImpl<unknown>): void;
  /**
   * It ended for its caller with acks still owed: its id stays held for
   * them, and counts toward `maxAbandonedRequests` until released.
   */
  abandon(subscription: SubscriptionImpl<unknown>): void;
}

/** The path part of a frame, as the client computed it. */
export interface PathFields {
  pathKind: number;
  pathHash: number;
  path: Uint8Array | undefined;
}

/** What the client computed for a new subscription. */
export interface SubscriptionInit<T> {
  path: string;
  pathFields: PathFields;
  filter: Uint8Array;
  decode: (bytes: Uint8Array) => T;
  timeout: number;
  options: SubscribeOptions<T>;
}

const EMPTY = new Uint8Array(0);
const noop = () => {};

/** The client's side of one subscription; callers see {@link handle}. */
export class SubscriptionImpl<T> {
  readonly id: number;
  readonly path: string;
  readonly filter: Uint8Array;
  state: SubscriptionState = "subscribing";
  discarded = 0;
  error: Error | undefined;
  /** What `subscribe()` resolves with: the public surface only. */
  readonly handle: ClientSubscription<T>;
  /** Settles with the first subscribe ack. */
  readonly ready: Promise<ClientSubscription<T>>;
  /** A SUBSCRIBE went to the current connection. */
  #sent = false;
  /** Acks owed on the current connection, oldest first. */
  #acks: ("subscribe" | "unsubscribe")[] = [];
  /** The server acknowledged a SUBSCRIBE at least once. */
  #confirmed = false;
  #notified = false;
  #resolveReady!: (subscription: ClientSubscription<T>) => void;
  #rejectReady!: (error: unknown) => void;
  #unsubscribing: PromiseWithResolvers<void> | undefined;
  readonly #host: SubscriptionHost;
  readonly #pathFields: PathFields;
  readonly #decode: (bytes: Uint8Array) => T;
  readonly #timeout: number;
  readonly #onUpdate: SubscribeOptions<T>["onUpdate"];
  readonly #onError: SubscribeOptions<T>["onError"];
  readonly #signal: AbortSignal | undefined;
  readonly #updates: UpdateQueue<T>;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: SubscriptionHost, id: number, init: SubscriptionInit<T>) {
    const { path, timeout, options } = init;
    this.#host = host;
    this.id = id;
    this.path = path;
    this.#pathFields = init.pathFields;
    this.filter = init.filter;
    this.#decode = init.decode;
    this.#timeout = timeout;
    this.#updates = new UpdateQueue(options.bufferSize ?? 1024);
    this.#onUpdate = options.onUpdate;
    this.#onError = options.onError;
    this.handle = new Subscription(this);
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(noop);
    this.#arm(() =>
      this.#giveUp(
        new TimeoutError(
          `No ack for the subscription to ${path} within ${timeout} ms; raise the timeout or check the server`,
        ),
      )
    );
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Updates dropped because the iterator's buffer was full. */
  get dropped(): number {
    return this.#updates.dropped;
  }

  /**
   * The connection is up: (re)send SUBSCRIBE, unless the session was
   * resumed and the server kept the acknowledged subscription.
   */
  connected(resumed = false): void {
    if (this.state === "closed" || this.state === "unsubscribing") return;
    if (resumed && this.#confirmed) {
      this.#sent = true;
      this.state = "active";
      return;
    }
    this.#sent = this.#host.send(
      this.#frame(RequestType.SUBSCRIBE, this.filter),
    );
    if (!this.#sent) return;
    this.#acks.push("subscribe");
    // The first SUBSCRIBE's time limit started with subscribe().
    if (this.#confirmed) {
      this.#arm(() =>
        this.#fail(
          new TimeoutError(
            `No ack for the re-subscription to ${this.path} within ${this.#timeout} ms after reconnecting; the subscription ended`,
          ),
        )
      );
    }
  }

  /** The connection is gone: the server forgot the subscription. */
  disconnected(): void {
    this.#sent = false;
    this.#acks = [];
    if (this.state === "unsubscribing") this.#end();
    if (this.state === "closed") return this.#host.release(this.#self);
    if (!this.#confirmed) return; // The first time limit goes on.
    clearTimeout(this.#timer);
    this.state = "resubscribing";
  }

  /** A response with this subscription's id arrived. */
  receive(type: number, status: number, message: string, data: Uint8Array) {
    if (type === ResponseType.UPDATE) return this.#update(data);
    if (type !== ResponseType.RESPONSE) return; // Only a RESPONSE acks.
    const ack = this.#acks.shift();
    if (ack === "subscribe") this.#subscribed(status, message);
    else if (ack === "unsubscribe") this.#unsubscribed(status, message);
    if (this.state === "closed" && this.#acks.length === 0) {
      this.#host.release(this.#self);
    }
  }

  #subscribed(status: number, message: string): void {
    if (this.state !== "subscribing" && this.state !== "resubscribing") return;
    if (status !== Status.OK) {
      return this.#end(errorFromStatus(status, message));
    }
    this.state = "active";
    clearTimeout(this.#timer);
    if (!this.#confirmed) {
      this.#confirmed = true;
      this.#resolveReady(this.handle);
    }
  }

  #unsubscribed(status: number, message: string): void {
    if (status !== Status.OK) {
      this.#unsubscribing?.reject(errorFromStatus(status, message));
    }
    this.#end();
  }

  unsubscribe(): Promise<void> {
    if (this.#unsubscribing) return this.#unsubscribing.promise;
    if (this.state === "closed") return Promise.resolve();
    this.#unsubscribing = Promise.withResolvers<void>();
    this.state = "unsubscribing";
    this.#updates.close(this.error);
    if (
      this.#sent && this.#host.send(this.#frame(RequestType.REQUEST, EMPTY))
    ) {
      this.#acks.push("unsubscribe");
      this.#arm(() => {
        this.#unsubscribing?.reject(
          new TimeoutError(
            `No ack for unsubscribing from ${this.path} within ${this.#timeout} ms; the subscription is over on this side`,
          ),
        );
        this.#end();
      });
    } else {
      this.#end();
      this.#host.release(this.#self);
    }
    return this.#unsubscribing.promise;
  }

  /**
   * The frame that ends this subscription on the server, if the server
   * acknowledged it (for a session resumed after it ended here).
   */
  unsubscribeFrame(): OutFrame | undefined {
    return this.#confirmed
      ? this.#frame(RequestType.REQUEST, EMPTY)
      : undefined;
  }

  /** Ends the subscription for good and frees its id (client closing). */
  finish(error?: Error): void {
    this.#end(error);
    this.#host.release(this.#self);
  }

  /** Ends the subscription for the caller; the id may stay held. */
  #end(error?: Error): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.error ??= error;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#rejectReady(
      this.error ??
        new ConnectionClosedError(
          `Client closed before the subscription to ${this.path} was acknowledged`,
        ),
    );
    this.#unsubscribing?.resolve();
    this.#updates.close(this.error);
    this.#notify();
    if (this.#acks.length > 0) this.#host.abandon(this.#self);
  }

  /** Fails while the server may still hold the subscription. */
  #fail(error: Error): void {
    this.error ??= error;
    this.#notify();
    this.unsubscribe().catch(noop);
  }

  /** Calls `onError` once, guarded: it must not break the read path. */
  #notify(): void {
    if (this.#notified || !this.error || !this.#confirmed) return;
    this.#notified = true;
    const error = this.error;
    guarded(
      () => this.#onError?.(error),
      `the onError callback of the subscription to ${this.path} threw`,
    );
  }

  get #self(): SubscriptionImpl<unknown> {
    return this as SubscriptionImpl<unknown>;
  }

  iterator(): AsyncIterator<T> {
    return {
      next: () => this.#updates.next(),
      // Breaking out of `for await` should not wait for the server.
      return: () => {
        this.unsubscribe().catch(noop);
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  #frame(type: number, data: Uint8Array): OutFrame {
    return { id: this.id, type, data, ...this.#pathFields };
  }

  #arm(onTimeout: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = timeLimit(this.#timeout, onTimeout);
  }

  #onAbort = () => this.#giveUp(this.#signal?.reason);

  /**
   * Rejects a pending subscribe with `reason`, then unsubscribes. Nobody
   * waits for the acks of a subscribe given up: it ends at once, its id
   * held for them as abandoned (as a call's that timed out).
   */
  #giveUp(reason: unknown): void {
    if (!this.#confirmed) this.#rejectReady(reason);
    this.unsubscribe().catch(noop);
    if (!this.#confirmed) this.#end();
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
      this.#fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const onUpdate = this.#onUpdate;
    if (!onUpdate) return this.#updates.push(update);
    guarded(
      () => onUpdate(update, this.handle),
      `the onUpdate callback of the subscription to ${this.path} threw; the subscription goes on`,
    );
  }
}

/**
 * Runs a callback of the caller's: what it throws, or what the promise it
 * returns (an async callback) rejects with, is logged, never unhandled.
 */
function guarded(run: () => unknown, what: string): void {
  const report = (error: unknown) => consoleError(`nanorpc: ${what}:`, error);
  try {
    const result = run();
    if (typeof (result as PromiseLike<unknown>)?.then === "function") {
      Promise.resolve(result).catch(report);
    }
  } catch (error) {
    report(error);
  }
}

/** The caller's view of a subscription. */
class Subscription<T> implements ClientSubscription<T> {
  readonly #impl: SubscriptionImpl<T>;

  constructor(impl: SubscriptionImpl<T>) {
    this.#impl = impl;
  }

  get id(): number {
    return this.#impl.id;
  }

  get path(): string {
    return this.#impl.path;
  }

  get filter(): Uint8Array {
    return this.#impl.filter;
  }

  get state(): SubscriptionState {
    return this.#impl.state;
  }

  get dropped(): number {
    return this.#impl.dropped;
  }

  get discarded(): number {
    return this.#impl.discarded;
  }

  get error(): Error | undefined {
    return this.#impl.error;
  }

  unsubscribe(): Promise<void> {
    return this.#impl.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#impl.iterator();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#impl.unsubscribe();
  }
}
