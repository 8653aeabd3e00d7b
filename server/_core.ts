// Internal state a server shares with its sessions, groups and topics, and
// the internal options benchmarks use. Not exported from mod.ts.

import type { Broker, BrokerMessage } from "./broker.ts";
import type { Middleware } from "./context.ts";
import type { ForwardNode } from "./_forward_host.ts";
import type { GroupImpl } from "./_group.ts";
import type { Logger } from "./logger.ts";
import type { Ops } from "./_ops.ts";
import type { ServerOptions } from "./options.ts";
import type { Router } from "./_router.ts";
import type { ServerSession } from "./_session.ts";
import type { ServerStats } from "./stats.ts";

/** Limits every session of a server applies. */
export interface SessionLimits {
  maxMessageSize: number;
  outgoingBufferSize: number;
  maxSubscriptionsPerSession: number;
  maxFilterSize: number;
  handlerTimeout: number;
}

/**
 * The frame codec a server decodes requests and encodes responses with.
 * The WASM `codec` is the default; benchmarks swap in a protobuf-es one
 * (through {@link InternalServerOptions}) to show what the WASM path buys.
 * Results of `decodeRequests` are read from `words` with the table layout
 * of wasm/layout.ts (through wasm/frames.ts).
 */
export interface RequestCodec {
  /** Decodes every complete request frame of `input`; returns the count. */
  decodeRequests(input: Uint8Array, maxMessageSize: number): number;
  /** The result table of the last decode (header, then entries). */
  readonly words: Int32Array;
  /**
   * Encodes response frames (three fields each) into one buffer; a frame of
   * type `PRE_ENCODED` (wasm/codec.ts) is its payload, copied as it is.
   */
  encodeResponses(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array;
  /**
   * Encodes response frames into `out` from `at`, which has room for each
   * frame's data, message (3 bytes per UTF-16 unit) and 32 bytes of
   * header; returns the offset past the last frame.
   */
  encodeResponsesInto(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
    out: Uint8Array,
    at: number,
  ): number;
}

/** Server options plus what only benchmarks set. */
export interface InternalServerOptions extends ServerOptions {
  /** The frame codec; default the WebAssembly one. */
  codec?: RequestCodec;
}

/** What sessions, groups and topics see of their server. */
export interface ServerCore {
  /** Random id of this server, unique in a cluster. */
  readonly nodeId: string;
  readonly codec: RequestCodec;
  readonly router: Router;
  readonly middleware: Middleware[];
  readonly limits: SessionLimits;
  readonly logger: Logger;
  readonly broker: Broker;
  readonly stats: ServerStats;
  readonly sessions: Map<number, ServerSession>;
  readonly uids: Map<string, ServerSession>;
  readonly groups: Map<string, GroupImpl>;
  /** Metrics, tracing, rate limits, resumption and draining. */
  readonly ops: Ops;
  /** Set when paths this server does not serve are forwarded to others. */
  forward?: ForwardNode;
  /** Called once when a session has ended, with why. */
  sessionClosed(session: ServerSession, reason: string): void;
}

/** The message of an error, or the value as text. */
export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    // Thrown values without a string form (Object.create(null)).
    return Object.prototype.toString.call(err);
  }
}

/**
 * Publishes through the broker; a broker whose publish fails later (it is
 * asynchronous) gets the failure logged, never thrown at the caller.
 */
export function publish(
  core: ServerCore,
  channel: string,
  message: BrokerMessage,
): void {
  const sent = core.broker.publish(channel, message);
  if (sent instanceof Promise) {
    sent.catch((err) =>
      core.logger.error(`publishing on ${channel} failed: ${errorMessage(err)}`)
    );
  }
}
