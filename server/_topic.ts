// A topic's subscriptions on this server and the fan-out of each publish
// to the subscriptions whose filter accepts it.

import type { DescMessage } from "@bufbuild/protobuf";
import { loadProtobuf, protobuf } from "../protocol/_protobuf.ts";
import { ResponseType, Status } from "../wasm/wire.ts";
import { errorMessage, type RequestCodec } from "./_core.ts";
import type { Logger } from "./logger.ts";
import type { ServerStats } from "./stats.ts";
import type { Route } from "./_router.ts";
import type { Session } from "./session.ts";
import type {
  Topic,
  TopicFilter,
  TopicOptions,
  TypedTopicOptions,
} from "./topic.ts";

/** One session's subscription to a topic. */
export interface Subscription {
  readonly session: Session;
  /** The SUBSCRIBE request's id, carried by every update. */
  readonly id: number;
  readonly topic: TopicImpl;
  /** The decoded filter, `undefined` for "everything". */
  readonly filter: unknown;
  /** Position in the topic's subscriber list (for O(1) removal). */
  index: number;
}

/**
 * {@link TopicOptions} as the server builds topics from them: a typed
 * topic's decoders need protobuf-es, which may still be loading.
 */
export interface TopicImplOptions extends TopicOptions<unknown, unknown> {
  /** A promise to wait for before decoding, or undefined when ready. */
  decoderReady?: () => Promise<unknown> | undefined;
}

export class TopicImpl implements Topic {
  readonly route: Route;
  #subscribers: Subscription[] = [];
  #filter?: TopicFilter<unknown, unknown>;
  #decodeFilter?: (bytes: Uint8Array) => unknown;
  #decodeUpdate?: (bytes: Uint8Array) => unknown;
  #decoderReady?: () => Promise<unknown> | undefined;
  #filtered = 0;
  #logger: Logger;
  /** Where failures are counted (the server's stats). */
  #stats: ServerStats | undefined;
  /** When {@link #log} last logged (`performance.now()`). */
  #loggedAt = -Infinity;
  /** Failures {@link #log} did not log since it last did. */
  #unlogged = 0;
  /** Deliveries walking the list now (a filter or a send may publish). */
  #walking = 0;
  /** Subscriptions detached during a walk, still in the list until it ends. */
  #holes = 0;

  constructor(
    route: Route,
    options: TopicImplOptions,
    logger: Logger,
    stats?: ServerStats,
  ) {
    this.route = route;
    this.#logger = logger;
    this.#stats = stats;
    this.#filter = options.filter;
    this.#decodeFilter = options.decodeFilter;
    this.#decodeUpdate = options.decodeUpdate;
    this.#decoderReady = options.decoderReady;
  }

  get path(): string {
    return this.route.path;
  }

  get size(): number {
    return this.#subscribers.length - this.#holes;
  }

  /**
   * Runs `next` (which {@link prepare}s a subscription from `filterBytes`)
   * at once, or once the topic can decode them: a typed topic registered
   * after `listen()` waits for protobuf-es.
   */
  whenDecodable<T>(filterBytes: Uint8Array, next: () => T): T | Promise<T> {
    const ready = filterBytes.length > 0 && this.#filter
      ? this.#decoderReady?.()
      : undefined;
    return ready ? ready.then(next) : next();
  }

  /**
   * Builds (but does not attach) a subscription from the subscriber's raw
   * filter bytes; throws when the topic's `decodeFilter` rejects them.
   */
  prepare(
    session: Session,
    id: number,
    filterBytes: Uint8Array,
  ): Subscription {
    let filter: unknown = undefined;
    if (filterBytes.length > 0 && this.#filter) {
      filter = this.#decodeFilter
        ? this.#decodeFilter(filterBytes)
        : filterBytes.slice();
    }
    return { session, id, topic: this, filter, index: -1 };
  }

  attach(sub: Subscription): void {
    sub.index = this.#subscribers.length;
    this.#subscribers.push(sub);
    if (sub.filter !== undefined) this.#filtered++;
  }

  /**
   * Stops delivering to `sub`, in O(1). During a delivery (a filter or a
   * send closed a session) nothing moves: swapping the last subscription
   * into the hole would make the walk miss it. The hole is skipped and
   * the list compacted when the walk ends.
   */
  detach(sub: Subscription): void {
    const list = this.#subscribers;
    const i = sub.index;
    if (i < 0 || list[i] !== sub) return;
    sub.index = -1;
    if (sub.filter !== undefined) this.#filtered--;
    if (this.#walking > 0) {
      this.#holes++;
      return;
    }
    const last = list.pop()!;
    if (last !== sub) {
      list[i] = last;
      last.index = i;
    }
  }

  /** Drops the holes detaches left during a walk. */
  #compact(): void {
    const list = this.#subscribers.filter((sub) => sub.index >= 0);
    for (let i = 0; i < list.length; i++) list[i].index = i;
    this.#subscribers = list;
    this.#holes = 0;
  }

  /**
   * Queues `data` as an UPDATE for every subscription whose filter accepts
   * it; returns how many were queued.
   */
  deliver(data: Uint8Array): number {
    const list = this.#subscribers;
    let update: unknown = data;
    // An update the filters cannot read skips the filtered subscriptions
    // only: the others take bytes, as when no filter is subscribed.
    let undecodable = false;
    if (this.#filtered > 0 && this.#decodeUpdate) {
      try {
        update = this.#decodeUpdate(data);
      } catch (err) {
        this.#log(`cannot decode an update for ${this.path}`, err);
        undecodable = true;
      }
    }
    let sent = 0;
    // The UPDATE is encoded once per subscription id seen (a few at most),
    // and that frame is shared by every session subscribed with the id.
    const ids: number[] = [];
    const frames: Uint8Array[] = [];
    // Subscriptions attached meanwhile come after `n`: they get the next.
    const n = list.length;
    this.#walking++;
    try {
      for (let i = 0; i < n; i++) {
        const sub = list[i];
        if (sub.index < 0) continue; // Detached during this walk.
        if (
          sub.filter !== undefined &&
          (undecodable || !this.#passes(sub, update))
        ) continue;
        const session = sub.session;
        if (!encodes(session)) {
          if (session.sendUpdate(sub.id, data)) sent++;
          continue;
        }
        const id = sub.id;
        let k = ids.indexOf(id);
        if (k < 0 && ids.length < SHARED_IDS) {
          k = ids.push(id) - 1;
          frames.push(session.core.codec.encodeResponses(
            [id, ResponseType.UPDATE, Status.OK],
            NO_MESSAGE,
            [data],
            1,
          ));
        }
        if (
          k >= 0
            ? session.sendEncoded(id, data, frames[k])
            : session.queueUpdate(id, data)
        ) sent++;
      }
    } finally {
      if (--this.#walking === 0 && this.#holes > 0) this.#compact();
    }
    return sent;
  }

  /** Whether `sub`'s filter accepts `data`, decoded for it alone. */
  accepts(sub: Subscription, data: Uint8Array): boolean {
    if (sub.filter === undefined) return true;
    let update: unknown = data;
    if (this.#decodeUpdate) {
      try {
        update = this.#decodeUpdate(data);
      } catch (err) {
        this.#log(`cannot decode a push for ${this.path}`, err);
        return false;
      }
    }
    return this.#passes(sub, update);
  }

  /** A filter that throws rejects, and is logged. */
  #passes(sub: Subscription, update: unknown): boolean {
    try {
      return this.#filter!(sub.filter, update, sub.session);
    } catch (err) {
      this.#log(`the filter of ${this.path} threw`, err);
      return false;
    }
  }

  /**
   * Logs a filter's or a decoder's failure, at most one line per
   * {@link LOG_INTERVAL} ms: one publish reaches every subscriber, and a
   * filter failing for each of 10,000 would flood the log. The next line
   * says how many went unlogged since the last.
   */
  #log(what: string, err: unknown): void {
    if (this.#stats) this.#stats.topicFailures++;
    const now = performance.now();
    if (now - this.#loggedAt < LOG_INTERVAL) {
      this.#unlogged++;
      return;
    }
    const more = this.#unlogged > 0
      ? ` (and ${this.#unlogged} more failures since the last report)`
      : "";
    this.#loggedAt = now;
    this.#unlogged = 0;
    this.#logger.error(`${what}: ${errorMessage(err)}${more}`);
  }
}

/**
 * Distinct subscription ids one publish encodes a shared UPDATE for; the
 * subscriptions with other ids have theirs encoded by their session.
 */
const SHARED_IDS = 4;
/** Least time between two logged failures of one topic, in ms. */
const LOG_INTERVAL = 1000;
const NO_MESSAGE = [undefined];

/** A session that can send an UPDATE encoded once for many. */
interface EncodingSession extends Session {
  readonly core: { readonly codec: RequestCodec };
  sendEncoded(id: number, data: Uint8Array, frame: Uint8Array): boolean;
  /** `sendUpdate` without its check that `id` is live (it is, here). */
  queueUpdate(id: number, data: Uint8Array): boolean;
}

function encodes(session: Session): session is EncodingSession {
  return (session as Partial<EncodingSession>).sendEncoded !== undefined;
}

/**
 * Turns {@link TypedTopicOptions} into plain {@link TopicOptions}, and
 * starts loading protobuf-es, which decoding needs. `listen()` and
 * `serve()` wait for the load; a topic registered after them makes a
 * filtered SUBSCRIBE wait for it (`whenDecodable`). Updates are decoded
 * only for filtered subscriptions, which exist only once it is loaded.
 */
export function typedTopicOptions<F extends DescMessage, U extends DescMessage>(
  options: TypedTopicOptions<F, U>,
): TopicImplOptions {
  loadProtobuf();
  const { filterSchema, updateSchema } = options;
  return {
    decoderReady: () => protobuf() ? undefined : loadProtobuf(),
    filter: options.filter as TopicFilter<unknown, unknown>,
    decodeFilter: (bytes) =>
      loaded(filterSchema).fromBinary(filterSchema, bytes),
    decodeUpdate: (bytes) =>
      loaded(updateSchema).fromBinary(updateSchema, bytes),
  };
}

function loaded(schema: DescMessage) {
  const pb = protobuf();
  if (pb) return pb;
  throw new Error(
    `Cannot decode ${schema.typeName} yet: protobuf-es has not finished loading`,
  );
}
