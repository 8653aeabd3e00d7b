/**
 * The connection lifecycle behind a `Client`: dialling, reconnecting with
 * backoff, the requests and subscriptions held by request id, the queue of
 * requests waiting for a connection, keepalive, and shutdown.
 *
 * The state is never `open` without a connection: it leaves `open` before
 * any event listener or callback can run, so work started from a
 * `disconnect` listener waits in the queue; `connect` listeners run before
 * subscriptions and the queue go out.
 *
 * @module
 */

import type { ByteStream } from "../transport/byte_stream.ts";
import { RequestType, Status } from "../wasm/wire.ts";
import type { Address } from "./address.ts";
import { AbandonedIds } from "./_abandoned.ts";
import { Call, type OutFrame, pingCall } from "./_call.ts";
import { Connection } from "./_connection.ts";
import { asError, dial, isPermissionError } from "./_dial.ts";
import { RequestIds } from "./_ids.ts";
import { ClientResume } from "./_resume.ts";
import { Waiting } from "./_waiting.ts";
import { keepalive } from "./_keepalive.ts";
import type { Settings } from "./_options.ts";
import {
  ConnectionClosedError,
  ConnectionLostError,
  errorFromStatus,
  NotConnectedError,
} from "./errors.ts";
import { type ClientState, ConnectionEvent } from "./events.ts";
import type { RequestOptions, RpcResponse } from "./options.ts";
import { type SubscriptionHost, SubscriptionImpl } from "./_subscription.ts";

/** Open this long, a connection was healthy: the backoff starts over. */
const HEALTHY_AFTER = 5000;

const noop = () => {};

/** One client's connection lifecycle; see the module doc. */
export class Link {
  readonly address: Address;
  readonly settings: Settings;
  readonly #emit: (event: ConnectionEvent) => void;
  #state: ClientState = "connecting";
  #connection: Connection | undefined;
  #openedAt = 0;
  /** A response arrived on the current connection. */
  #healthy = false;
  #draining: Promise<void> | undefined;
  #entries = new Map<number, Call | SubscriptionImpl<unknown>>();
  /** Ids held only for a late answer: bounded by maxAbandonedRequests. */
  readonly #abandoned: AbandonedIds;
  #queue = new Waiting();
  readonly #ids: RequestIds;
  #connections = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopKeepalive = noop;
  #closeAbort = new AbortController();
  #opening: Promise<void>;
  /** The last connection that reached `open`. */
  #openedConnection: Connection | undefined;
  readonly #opened = Promise.withResolvers<void>();
  #closing: Promise<void> | undefined;
  /** Session resumption and the reconnect hook, when asked for. */
  readonly #resume: ClientResume | undefined;

  constructor(
    address: Address,
    settings: Settings,
    emit: (event: ConnectionEvent) => void,
  ) {
    this.address = address;
    this.settings = settings;
    this.#emit = emit;
    this.#ids = new RequestIds(settings.initialRequestId);
    this.#abandoned = new AbandonedIds(settings.maxAbandonedRequests);
    this.#resume = ClientResume.from(settings);
    this.#opened.promise.catch(noop);
    this.#opening = this.#open();
  }

  /** Settles when the first connection opens, or the client closes first. */
  get opened(): Promise<void> {
    return this.#opened.promise;
  }

  get state(): ClientState {
    return this.#state;
  }

  get #closed(): boolean {
    return this.#state === "closed";
  }

  /** Requests and pings waiting for an answer or for a connection. */
  get pending(): number {
    let n = this.#queue.size;
    for (const entry of this.#entries.values()) {
      if (entry instanceof Call && !entry.done) n++;
    }
    return n;
  }

  /** Registers a subscription under a fresh id and subscribes if open. */
  subscribe<T>(
    make: (host: SubscriptionHost, id: number) => SubscriptionImpl<T>,
  ): SubscriptionImpl<T> {
    const subscription = make(this.#host, this.#allocateId());
    this.#entries.set(
      subscription.id,
      subscription as SubscriptionImpl<unknown>,
    );
    if (this.#state === "open") subscription.connected();
    return subscription;
  }

  #host: SubscriptionHost = {
    send: (frame: OutFrame): boolean => {
      if (this.#state !== "open" || !this.#connection) return false;
      this.#connection.send(frame);
      return true;
    },
    release: (subscription: SubscriptionImpl<unknown>): void => {
      if (this.#entries.get(subscription.id) === subscription) {
        this.#entries.delete(subscription.id);
        this.#abandoned.free(subscription);
        if (this.#state !== "open") this.#resume?.orphan(subscription);
      }
    },
    abandon: (subscription: SubscriptionImpl<unknown>): void => {
      if (this.#entries.get(subscription.id) !== subscription) return;
      this.#dropIfStuck(this.#abandoned.add(subscription));
    },
  };

  /** Sends `call` now, or queues it until connected, or fails it. */
  start<T>(call: Call<T>, options: RequestOptions): Promise<T> {
    const { timeout = this.settings.timeout, signal } = options;
    if (!call.arm(timeout, signal, this.settings.maxRequestSize)) {
      return call.promise;
    }
    if (this.#state === "open") this.#dispatch(call as Call);
    else if (this.#state === "closed") call.reject(new ConnectionClosedError());
    else if (this.settings.failFast) call.reject(new NotConnectedError());
    else this.#queue.admit(call as Call, this.settings.queueSize);
    return call.promise;
  }

  /** `first`: goes out on a connection not yet open (a resume). */
  #dispatch(call: Call, first = false): void {
    const connection = this.#connection;
    if (!connection || (this.#state !== "open" && !first)) {
      return this.#queue.add(call);
    }
    call.id = this.#allocateId();
    call.written = false;
    call.sentAt = performance.now();
    call.onSettle = this.#onSettle;
    this.#entries.set(call.id, call);
    if (!connection.send(call)) {
      this.#entries.delete(call.id);
      call.reject(new NotConnectedError(connection.unsentRefusal(call)));
    }
  }

  #allocateId(): number {
    return this.#ids.next((id) => this.#entries.has(id));
  }

  /** A call settled: free its id unless its frame went out unanswered. */
  #onSettle = (call: Call): void => {
    if (call.id === 0 || this.#entries.get(call.id) !== call) return;
    if (!call.written) {
      this.#entries.delete(call.id); // The writer skips it: never sent.
      this.#connection?.unsentSettled();
      return;
    }
    this.#connection?.gaveUp(call.id); // It holds no window any more.
    this.#dropIfStuck(this.#abandoned.add());
  };

  /** Past maxAbandonedRequests: dropping the connection frees the ids. */
  #dropIfStuck(error: ConnectionLostError | undefined): void {
    if (error) this.#connection?.close(error);
  }

  #onResponse = (
    id: number,
    type: number,
    status: number,
    message: string,
    data: Uint8Array,
  ): void => {
    const entry = this.#entries.get(id);
    if (entry === undefined) return; // Not ours: proves nothing.
    this.#healthy = true;
    if (!(entry instanceof Call)) {
      return entry.receive(type, status, message, data);
    }
    if (type !== entry.answerType) return;
    this.#entries.delete(id);
    if (entry.done) {
      this.#abandoned.free(); // The late answer of an abandoned call.
    } else if (entry.type === RequestType.PING) {
      entry.resolve(performance.now() - entry.sentAt);
    } else if (status === Status.OK) {
      entry.resolve({ status, message, data } satisfies RpcResponse);
    } else {
      entry.reject(errorFromStatus(status, message));
    }
  };

  async #open(): Promise<void> {
    this.#state = "connecting";
    const settings = this.settings;
    let stream: ByteStream;
    try {
      await this.#resume?.beforeDial(
        this.#connections,
        this.#closeAbort.signal,
      );
      stream = await dial(this.address, {
        timeout: settings.connectTimeout,
        signal: this.#closeAbort.signal,
        caCerts: settings.caCerts,
        protocols: settings.protocols,
        maxMessageSize: settings.maxMessageSize,
      });
    } catch (error) {
      if (this.#closed) return;
      // Retrying cannot fix a missing permission.
      if (isPermissionError(error)) this.shutdown(error);
      else this.#retry(asError(error));
      return;
    }
    if (this.#closed) return stream.close();
    const connection = new Connection(
      stream,
      settings.maxMessageSize,
      this.#onResponse,
      this.#onClose,
      settings.maxUnsentBytes,
      settings.maxRequestSize,
    );
    this.#connection = connection;
    this.#openedAt = performance.now();
    this.#healthy = false;
    const lost = await this.#resume?.open((call) =>
      this.#dispatch(call as Call, true)
    );
    if (this.#connection !== connection || this.#closed) return; // Lost or closed while resuming.
    const resumed = lost !== undefined;
    this.#state = "open";
    this.#openedConnection = connection;
    // Subscriptions and queued calls go after what the events' listeners
    // send (a login again, say), so that is answered first.
    const entries = [...this.#entries.values()];
    if (settings.keepalive) {
      this.#stopKeepalive = keepalive(
        connection,
        settings.keepalive,
        (timeout) => this.start(pingCall(), { timeout }),
      );
    }
    this.#resume?.opened(resumed, connection, (c) => this.start(c, {}));
    const connections = ++this.#connections;
    this.#opened.resolve();
    const info = { connections, resumed, lostUpdates: lost };
    this.#emit(new ConnectionEvent("connect", info));
    // A `connect` listener may have closed the client.
    if (connections > 1 && this.#connection === connection && !this.#closed) {
      this.#emit(new ConnectionEvent("reconnect", info));
    }
    if (this.#connection !== connection || this.#state !== "open") return;
    for (const entry of entries) {
      if (this.#entries.get(entry.id) !== entry) continue;
      if (entry instanceof SubscriptionImpl) entry.connected(resumed);
    }
    for (const call of this.#queue.take()) if (!call.done) this.#dispatch(call);
  }

  /** A connection attempt failed: try again later, or give up. */
  #retry(error: Error): void {
    const { backoff, maxAttempts, waitForServer } = this.settings;
    if (
      !backoff || backoff.attempt >= maxAttempts ||
      (this.#connections === 0 && !waitForServer)
    ) {
      this.shutdown(error);
      return;
    }
    this.#state = "waiting";
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#opening = this.#open();
    }, backoff.next());
  }

  #onClose = (connection: Connection, error: Error): void => {
    if (connection !== this.#connection) return;
    // Lost during its handshake (resuming): it never opened, so no event.
    const wasOpen = this.#state === "open" ||
      (this.#closed && this.#openedConnection === connection);
    this.#connection = undefined;
    this.#draining = connection.close(error);
    this.#stopKeepalive();
    const connections = this.#connections;
    if (this.#closed) {
      // Only a goodbye can be waiting for an answer now.
      for (const entry of this.#entries.values()) {
        if (entry instanceof Call) entry.reject(error);
      }
      if (wasOpen) {
        this.#emit(new ConnectionEvent("disconnect", { connections }));
      }
      return;
    }
    const backoff = this.settings.backoff;
    // A server that accepts and then hangs up must not reset the backoff.
    if (this.#healthy || performance.now() - this.#openedAt >= HEALTHY_AFTER) {
      backoff?.reset();
    }
    const lost = error instanceof ConnectionLostError
      ? error
      : new ConnectionLostError(undefined, { cause: error });
    if (backoff) {
      this.#state = "waiting";
      this.#failInFlight(connection, lost);
    } else {
      this.shutdown(lost);
    }
    if (wasOpen) {
      this.#emit(new ConnectionEvent("disconnect", { error, connections }));
    }
    if (!this.#closed) this.#retry(lost); // A listener may have closed it.
  };

  /**
   * Rejects the calls written to `connection`, queues the unwritten ones to
   * go out first on the next connection, and tells subscriptions.
   */
  #failInFlight(connection: Connection, lost: ConnectionLostError): void {
    const requeue: Call[] = [];
    for (const frame of connection.takeUnsent()) {
      if (!(frame instanceof Call) || frame.done) continue;
      this.#entries.delete(frame.id);
      requeue.push(frame);
    }
    for (const [id, entry] of this.#entries) {
      if (entry instanceof Call) {
        this.#entries.delete(id);
        entry.reject(lost);
      } else {
        entry.disconnected();
      }
    }
    this.#abandoned.clear();
    // The unwritten ones go out first, before those that waited already.
    this.#queue.addFirst(requeue);
  }

  /** Closes for good; pending work fails with `error`. */
  shutdown(error: Error): Promise<void> {
    if (this.#closing) return this.#closing;
    const userClose = error instanceof ConnectionClosedError;
    const connection = this.#connection;
    // Leaving on purpose: a resumable session ends now, not after its grace.
    const bye = userClose && connection
      ? this.#resume?.goodbye(this.#state === "open")
      : undefined;
    this.#state = "closed";
    clearTimeout(this.#retryTimer);
    this.#stopKeepalive();
    this.#closeAbort.abort();
    this.#opened.reject(error);
    const queue = this.#queue.take();
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#abandoned.clear();
    for (const call of queue) call.reject(error);
    for (const entry of entries) {
      if (entry instanceof Call) entry.reject(error);
      else entry.finish(userClose ? undefined : error);
    }
    if (bye) {
      bye.id = this.#allocateId();
      this.#entries.set(bye.id, bye as Call);
      if (!connection!.send(bye)) bye.reject(new NotConnectedError());
    }
    this.#closing = (async () => {
      if (bye) await bye.promise.catch(noop);
      await connection?.close(error);
      await this.#draining;
      await this.#opening;
    })();
    return this.#closing;
  }
}
