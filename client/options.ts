/**
 * Options of the client, its requests and its typed calls, and the shape
 * of a response.
 *
 * @module
 */

import type { Status } from "../wasm/wire.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { DescMessage } from "@bufbuild/protobuf";
import type { Tracer } from "@opentelemetry/api";

/** How the client reconnects after losing the server. */
export interface ReconnectOptions extends BackoffOptions {
  /**
   * Failed connection attempts in a row before the client gives up and
   * closes. A connection the server accepts and then drops before it proves
   * healthy (before an answer to one of its requests or an update of its
   * subscriptions arrives on it, and within 5 s) counts as a
   * failed attempt, so the delays keep growing against a server that
   * refuses sessions after accepting them; they start over from `initial`
   * once a connection proves healthy. @default {Infinity}
   */
  maxAttempts?: number;
}

/**
 * TLS settings of a `tls://` address.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nanorpc/nanorpc/client";
 *
 * const caCerts = [await Deno.readTextFile("ca.pem")];
 * const client = await connect("tls://localhost:7411", { caCerts });
 * ```
 */
export interface TlsOptions {
  /** Extra root certificates (PEM) to trust, e.g. a self-signed CA. */
  caCerts?: string[];
}

/** How the client notices a dead server on an idle connection. */
export interface KeepaliveOptions {
  /**
   * Milliseconds without any bytes from the server before a PING is sent;
   * must be > 0. @default {30000}
   */
  interval?: number;
  /**
   * Milliseconds to wait for any bytes after that PING before the server
   * is deemed dead and the connection dropped (and re-dialled); must be
   * > 0. @default {10000}
   */
  timeout?: number;
}

/**
 * Options of `connect` and `new Client`. Values out of range make the
 * constructor throw a `RangeError` that names the option. Every time limit
 * above 2^31-1 ms (about 24.8 days, the longest delay a timer can hold) is
 * capped there.
 */
export interface ClientOptions {
  /**
   * Send paths as their FNV-1a hash instead of the string, unless a call
   * says otherwise. Saves bytes; the server must know the path.
   * @default {false}
   */
  hash?: boolean;
  /**
   * Milliseconds a request waits for its response (time spent waiting for
   * a connection included); 0 or `Infinity` waits forever.
   * @default {30000}
   */
  timeout?: number;
  /**
   * Largest response frame accepted, in bytes (the frame's length prefix);
   * a larger one is a protocol error that drops the connection.
   * @default {1048576}
   */
  maxMessageSize?: number;
  /**
   * Largest request frame sent, in bytes (the frame's length prefix: the
   * data, the path and up to 25 bytes of fields). A request or subscribe
   * filter that could be larger rejects at once with a `ClientError` and
   * is never sent, since a server drops the whole connection (and every
   * request in flight on it) on a frame over its own `maxMessageSize`.
   * Match it to the server's. @default {the client's `maxMessageSize`}
   */
  maxRequestSize?: number;
  /**
   * Milliseconds one connection attempt (TLS handshake included) may take;
   * 0 or `Infinity` for no limit. @default {10000}
   */
  connectTimeout?: number;
  /**
   * Keep trying when the very first connection attempt fails, instead of
   * closing the client (and rejecting `connect`) with the error.
   * @default {false}
   */
  waitForServer?: boolean;
  /**
   * Reconnect with exponential backoff after losing the server, or `false`
   * to close the client instead.
   * @default {{ initial: 100, max: 10000, factor: 2, jitter: 0.5 }}
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Reject requests made while disconnected at once with
   * `NotConnectedError`, instead of holding them until the client
   * reconnects or their timeout passes.
   * @default {false}
   */
  failFast?: boolean;
  /** Most requests held while disconnected. @default {1024} */
  queueSize?: number;
  /**
   * Bytes of request frames the client holds unsent on an open connection
   * while its write waits (the server is not reading fast enough), or, over
   * a WebSocket, while `maxRequestSize` bytes of requests written may not
   * have been read by the server yet (it closes a WebSocket whose unread
   * bytes pass twice its `maxMessageSize`, so the client sends no more). A
   * request beyond it rejects at once with `NotConnectedError` instead of
   * queueing without bound; one request always fits an empty queue, and
   * requests that time out or are aborted before they are written leave
   * the queue. @default {4194304}
   */
  maxUnsentBytes?: number;
  /**
   * Most requests that timed out or were aborted after being sent and whose
   * answers have not arrived. Each keeps its request id reserved (a few
   * hundred bytes; its data is already released), so that a late answer
   * never reaches a newer request. Subscriptions count the same way once
   * they are over for their caller while the server still owes an ack: a
   * subscribe that timed out or was aborted before its ack, or an
   * unsubscribe whose ack did not come within the timeout. Beyond this many
   * the client takes the server for stuck: it drops the connection, which
   * frees them all (requests still in flight on it reject with
   * `ConnectionLostError`, subscriptions subscribe again), and reconnects,
   * or closes when `reconnect` is false. A request that times out or is
   * aborted before it was written is never sent and frees its id at once.
   * @default {10000}
   */
  maxAbandonedRequests?: number;
  /** Keepalive pings on idle connections, or `false` for none. */
  keepalive?: boolean | KeepaliveOptions;
  /** Extra root certificates (PEM) for `tls://` addresses. */
  caCerts?: string[];
  /**
   * WebSocket subprotocols to offer on `ws://` and `wss://` addresses, as
   * in `new WebSocket(url, protocols)`: `["nanorpc"]` for a server that
   * asks for it. A nanorpc server answers a client offering `nanorpc`, and
   * one offering none. Default: none offered.
   */
  protocols?: string[];
  /**
   * First request id handed out; ids then count up, wrap from 2147483647
   * to -2147483648 and skip 0 (the id an absent field decodes as) and any
   * id a pending request or live subscription holds. Mostly for tests.
   * @default {1}
   */
  initialRequestId?: number;
  /**
   * Resume the server-side session after a reconnect: the client asks for
   * a resume token (`/_nanorpc/session`) after connecting, and on the next
   * connection sends `/_nanorpc/resume` before anything else. Resumed, the
   * session keeps its attributes, uid, groups and subscriptions, and the
   * updates published meanwhile arrive (`reconnect` events say `resumed`
   * and how many were lost); otherwise (a server without resumption, an
   * expired token, another node) the client subscribes again as without
   * it. `close()` says `/_nanorpc/goodbye` first (waiting at most a second
   * for its answer), so the session ends at once instead of lingering.
   *
   * The client also gives the token up and starts a new session, reported
   * as after an expired token (`resumed` is false), when the resume is not
   * answered in time (within `timeout`; when that is 0 or `Infinity`,
   * within `connectTimeout`, or 10 s when both are off: resuming is part
   * of connecting, so the state stays `connecting` meanwhile), or when 3
   * or more connections in a row, over 30 s or more (a server's default
   * grace period), end before its answer: a resume that brings down every
   * connection it goes out on (a node or a proxy that fails on it) must
   * not keep the client from ever working again, while quick drops (a
   * proxy hanging up while its backend restarts) keep the session. A session the
   * server still holds then ends there when its grace period does.
   * @default {false}
   */
  resume?: boolean;
  /**
   * Runs before each reconnection attempt (not the first connection), e.g.
   * to refresh credentials the application sends after connecting. A hook
   * that throws fails that attempt, and the client backs off and retries.
   * `close()` does not wait for it: its `signal` aborts then (pass it on to
   * what the hook awaits).
   */
  beforeReconnect?: (signal: AbortSignal) => void | Promise<void>;
  /**
   * An OpenTelemetry tracer (`trace.getTracer("my-app")` from
   * `@opentelemetry/api`): each request and subscribe gets a CLIENT span.
   * Without one the client does no tracing work. NanoRPC frames carry no
   * headers, so these spans do not link to the server's.
   */
  tracer?: Tracer;
}

/** Options of one request or ping. */
export interface RequestOptions {
  /**
   * Aborting it rejects the request with the signal's reason. A request
   * aborted before its frame was written is never sent.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds to wait for the response; 0 or `Infinity` waits forever.
   * A negative or non-numeric value rejects with a `RangeError`.
   * @default {the client's `timeout`}
   */
  timeout?: number;
  /** Send the path as its FNV-1a hash. @default {the client's `hash`} */
  hash?: boolean;
}

/** Options of a typed `Client.call`: the schemas and request options. */
export interface CallOptions<I extends DescMessage, O extends DescMessage>
  extends RequestOptions {
  /** protobuf-es schema the request message is encoded with. */
  input: I;
  /** protobuf-es schema the response data is decoded with. */
  output: O;
}

/** A successful response. */
export interface RpcResponse {
  /** Always `Status.OK`: other statuses reject with a `NanoRpcError`. */
  status: Status;
  /** The response message, usually empty. */
  message: string;
  /** The response data; a copy the caller owns. */
  data: Uint8Array;
}
