/**
 * The reconnecting NanoRPC client.
 *
 * @module
 */

import { consoleError } from "../protocol/_console_text.ts";
import { ListenerGuard } from "../protocol/_listener_guard.ts";
import { RequestType } from "../wasm/wire.ts";
import { type Address, type StreamDialer, toAddress } from "./address.ts";
import { Call, frameTooLarge, pingCall } from "./_call.ts";
import { Link } from "./_link.ts";
import { checkCount, resolveOptions } from "./_options.ts";
import { encodeMessage, messageDecoder } from "./_protobuf.ts";
import { loadProtobuf, protobuf } from "../protocol/_protobuf.ts";
import { ConnectionClosedError } from "./errors.ts";
import type { ClientEventMap, ClientState } from "./events.ts";
import type {
  CallOptions,
  ClientOptions,
  RequestOptions,
  RpcResponse,
} from "./options.ts";
import type {
  DescMessage,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { type ServiceClient, serviceClient } from "./service.ts";
import { PathCache } from "./_path_cache.ts";
import type { PathFields } from "./_subscription.ts";
import { startSubscription } from "./_subscribe.ts";
import { checkTimeLimit } from "./_timer.ts";
import { traced } from "./_tracing.ts";
import type {
  ClientSubscription,
  SubscribeOptions,
  TypedSubscribeOptions,
} from "./subscription.ts";

export type { ClientState } from "./events.ts";

const EMPTY = new Uint8Array(0);

/**
 * A NanoRPC client over TCP, TLS or a UNIX socket. It connects in the
 * background and reconnects with exponential backoff when the server goes
 * away; requests made meanwhile wait (bounded) and subscriptions are
 * re-established by themselves. Requests issued in one turn of the event
 * loop are written in one `write`. Prefer {@link connect}, which waits for
 * the first connection.
 *
 * Dispatches {@link ConnectionEvent}s `connect`, `disconnect` and
 * `reconnect`.
 *
 * @example
 * ```ts ignore
 * import { Client } from "@nanorpc/nanorpc";
 *
 * const client = new Client("tcp://127.0.0.1:7411", { timeout: 5000 });
 * client.addEventListener("reconnect", () => console.log("back online"));
 * const response = await client.request("/echo", new TextEncoder().encode("hi"));
 * console.log(new TextDecoder().decode(response.data));
 * await client.close();
 * ```
 */
export class Client extends EventTarget implements AsyncDisposable {
  /** The server address. */
  readonly address: Address;
  readonly #link: Link;
  #paths = new PathCache();
  #guard = new ListenerGuard((err, type) =>
    consoleError(`nanorpc client: a ${type} listener threw:`, err)
  );

  /**
   * Starts connecting to `address` in the background.
   *
   * @param address An address text or object (see `parseAddress`), or a
   * {@link StreamDialer} called for every connection (stream pairs, stdio).
   * @param options Timeouts, reconnection, keepalive and more.
   * @throws {TypeError} When the address cannot be parsed.
   * @throws {RangeError} When an option is out of range; the message names
   * it.
   */
  constructor(
    address: string | Address | StreamDialer,
    options: ClientOptions = {},
  ) {
    super();
    const settings = resolveOptions(options);
    this.address = toAddress(address);
    this.#link = new Link(
      this.address,
      settings,
      (event) => this.dispatchEvent(event),
    );
  }

  /** Where the connection is; see {@link ClientState}. */
  get state(): ClientState {
    return this.#link.state;
  }

  /**
   * Settles when the first connection opens; rejects if the client closes
   * (or gives up connecting) before that.
   */
  get opened(): Promise<void> {
    return this.#link.opened;
  }

  /** Requests and pings waiting for an answer or for a connection. */
  get pending(): number {
    return this.#link.pending;
  }

  /**
   * Sends a REQUEST to `path` and resolves with its response.
   *
   * @param path The handler's path, e.g. `"/echo"`.
   * @param data The request data. It is read when the batch is written, so
   * do not modify it before the returned promise settles.
   * @param options Signal, timeout and path hashing.
   * @returns The response; its `data` is a copy the caller owns.
   * @throws {NanoRpcError} A subclass such as `NotFoundError` when the
   * status is not OK; `TimeoutError`, `ConnectionLostError`,
   * `NotConnectedError` or `ConnectionClosedError` for local failures; a
   * `ClientError` when the frame would exceed `maxRequestSize` (it is not
   * sent); the signal's reason when aborted.
   * @throws {RangeError} When `options.timeout` is negative or not a
   * number.
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nanorpc/nanorpc";
   *
   * await using client = await connect("unix:///tmp/nanorpc.sock");
   * const { data } = await client.request("/echo", new Uint8Array([1, 2]), {
   *   timeout: 1000,
   * });
   * ```
   */
  request(
    path: string,
    data: Uint8Array = EMPTY,
    options: RequestOptions = {},
  ): Promise<RpcResponse> {
    const fields = this.#pathFields(path, options.hash);
    const call = new Call<RpcResponse>(
      { type: RequestType.REQUEST, ...fields, data },
      path,
    );
    const sent = this.#link.start(call, options);
    const tracer = this.#link.settings.tracer;
    return tracer ? traced(tracer, path, path, sent) : sent;
  }

  /**
   * Typed request: encodes `input` with `options.input`, sends it to
   * `path` and decodes the response data with `options.output`. The first
   * typed call, subscription or service client loads protobuf-es
   * (`npm:@bufbuild/protobuf`); a client that sends only bytes never does.
   *
   * @param path The handler's path.
   * @param input The request message or its init object.
   * @param options The two schemas, plus signal, timeout and hashing.
   * @returns The decoded response message.
   * @throws {NanoRpcError} As {@link Client.request}; a `ClientError` when
   * the input does not encode (a message of another type, a required field
   * unset) or the response does not decode with the output schema.
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nanorpc/nanorpc";
   * import { ChatJoinSchema, ChatMessageSchema } from "./proto/gen/chat_pb.ts";
   *
   * await using client = await connect("tcp://127.0.0.1:7411");
   * await client.call("/room/join", { name: "ada" }, {
   *   input: ChatJoinSchema,
   *   output: ChatMessageSchema,
   * });
   * ```
   */
  async call<I extends DescMessage, O extends DescMessage>(
    path: string,
    input: MessageInitShape<I>,
    options: CallOptions<I, O>,
  ): Promise<MessageShape<O>> {
    const pb = protobuf() ?? await loadProtobuf();
    const bytes = encodeMessage(pb, options.input, input, path);
    const response = await this.request(path, bytes, options);
    return messageDecoder(pb, options.output, path)(response.data);
  }

  /**
   * Sends a PING and measures the round trip.
   *
   * @param options Signal and timeout (`hash` is ignored).
   * @returns The round-trip time in milliseconds.
   * @throws {TimeoutError} When no PONG arrives in time; other local
   * failures as {@link Client.request}.
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nanorpc/nanorpc";
   *
   * await using client = await connect("tcp://127.0.0.1:7411");
   * console.log(`${(await client.ping()).toFixed(2)} ms`);
   * ```
   */
  ping(options: RequestOptions = {}): Promise<number> {
    const call = pingCall();
    return this.#link.start(call, options);
  }

  /**
   * Subscribes to the topic at `path` and resolves once the server has
   * acknowledged it (the subscription survives reconnects; see
   * {@link ClientSubscription}).
   *
   * @param path The topic's path.
   * @param filter Filter bytes the topic's filter sees; empty for all. They
   * are copied, so the caller may reuse the array.
   * @param options Callback or buffer size, signal, timeout, hashing, and
   * `output` to decode updates with a protobuf-es schema.
   * @returns The subscription.
   * @throws {NanoRpcError} `NotFoundError` for an unknown topic, other
   * statuses likewise; `TimeoutError` when no ack arrives in time; a
   * `ClientError` when the filter would make the frame exceed
   * `maxRequestSize`.
   * @throws {RangeError} When `timeout` or `bufferSize` is out of range.
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nanorpc/nanorpc";
   *
   * await using client = await connect("tcp://127.0.0.1:7411");
   * const sub = await client.subscribe("/room/messages", undefined, {
   *   onUpdate: (update) => console.log(update.length, "bytes"),
   * });
   * await sub.unsubscribe();
   * ```
   */
  subscribe<O extends DescMessage>(
    path: string,
    filter: Uint8Array | undefined,
    options: TypedSubscribeOptions<O>,
  ): Promise<ClientSubscription<MessageShape<O>>>;
  /**
   * Subscribes to the topic at `path`; updates are raw bytes.
   *
   * @param path The topic's path.
   * @param filter Filter bytes the topic's filter sees; empty for all
   * (copied).
   * @param options Callback or buffer size, signal, timeout and hashing.
   * @returns The subscription.
   */
  subscribe(
    path: string,
    filter?: Uint8Array,
    options?: SubscribeOptions,
  ): Promise<ClientSubscription>;
  subscribe(
    path: string,
    filter: Uint8Array = EMPTY,
    // deno-lint-ignore no-explicit-any
    options: SubscribeOptions<any> & { output?: DescMessage } = {},
  ): Promise<ClientSubscription<unknown>> {
    if (this.#link.state === "closed") {
      return Promise.reject(new ConnectionClosedError());
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const timeout = options.timeout ?? this.#link.settings.timeout;
    try {
      checkTimeLimit("timeout", timeout);
      checkCount("bufferSize", options.bufferSize ?? 1024, 1);
    } catch (error) {
      return Promise.reject(error);
    }
    const pathFields = this.#pathFields(path, options.hash);
    const tooLarge = frameTooLarge(
      pathFields,
      filter.length,
      this.#link.settings.maxRequestSize,
      `The subscription to ${path}`,
    );
    if (tooLarge) return Promise.reject(tooLarge);
    const init = {
      path,
      pathFields,
      filter: filter.slice(),
      decode: (bytes: Uint8Array) => bytes as unknown,
      timeout,
      options,
    };
    return startSubscription(this.#link, init, options.output);
  }

  /**
   * A typed client of a `.proto` service (a protobuf-es service descriptor
   * from a `*_pb.ts` file): one function per method, at the path the
   * server serves it on (`(nanorpc).request_path`, or
   * `/<package>.<Service>/<Method>`). Unary methods resolve with the decoded
   * output; server-streaming methods subscribe with the input as the filter
   * and resolve with a subscription of decoded outputs.
   *
   * @param service The service descriptor, e.g. `Room`.
   * @returns The typed client; see {@link ServiceClient}.
   * @throws {TypeError} When a method's `(nanorpc).request_path` does not
   * start with "/".
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nanorpc/nanorpc";
   * import { Room } from "@nanorpc/nanorpc/proto/chat";
   *
   * await using client = await connect("tcp://127.0.0.1:7411");
   * const room = client.service(Room);
   * const messages = await room.messages();
   * await room.send({ text: "hi" });
   * for await (const msg of messages) console.log(msg.text);
   * ```
   */
  service<S extends DescService>(service: S): ServiceClient<S> {
    return serviceClient(this, service);
  }

  /**
   * Closes the client for good: pending requests reject with
   * `ConnectionClosedError`, subscriptions end (their iterators finish),
   * reconnection stops and the socket is closed.
   *
   * @returns Resolves once the socket and every timer are released.
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nanorpc/nanorpc";
   *
   * const client = await connect("tcp://127.0.0.1:7411");
   * await client.close();
   * ```
   */
  close(): Promise<void> {
    return this.#link.shutdown(new ConnectionClosedError());
  }

  /** Closes the client; see {@link Client.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Adds a listener; typed for `connect`, `disconnect` and `reconnect`. One
   * that throws, or whose promise rejects, is reported to `console.error`;
   * the client and the other listeners go on.
   *
   * @param type The event name.
   * @param listener Receives a {@link ConnectionEvent}.
   * @param options Standard listener options.
   */
  override addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (this: Client, event: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds a listener for any event name; guarded the same way. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    const wrapped = this.#guard.wrap(type, listener, options);
    super.addEventListener(type, wrapped, options);
  }

  /** Removes a listener added with {@link addEventListener}. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const wrapped = this.#guard.unwrap(type, listener, options);
    super.removeEventListener(type, wrapped, options);
  }

  #pathFields(path: string, hash = this.#link.settings.hash): PathFields {
    return this.#paths.fields(path, hash);
  }
}
