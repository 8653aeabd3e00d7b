// Internal state a server shares with its sessions, groups and topics.
// Not exported from mod.ts.

import type { Broker } from "./broker.ts";
import type { Middleware } from "./context.ts";
import type { Group } from "./group.ts";
import type { Logger } from "./logger.ts";
import type { Router } from "./router.ts";
import type { Session } from "./session.ts";

/** Counters a server keeps; `server.stats()` returns a snapshot. */
export interface ServerStats {
  /** Sessions open now. */
  sessions: number;
  /** Live subscriptions over all sessions. */
  subscriptions: number;
  /** Group memberships over all groups. */
  groupMemberships: number;
  /** Sessions accepted since start. */
  sessionsOpened: number;
  /** Connections refused by `maxSessions`, the handshake hook, or shutdown. */
  sessionsRefused: number;
  /** Request frames decoded. */
  framesIn: number;
  /** Response, pong and update frames sent. */
  framesOut: number;
  /** Bytes read from peers. */
  bytesIn: number;
  /** Bytes written to peers. */
  bytesOut: number;
  /** Connections closed because they sent a malformed frame. */
  malformedCloses: number;
  /** Updates dropped because a session's outgoing buffer was full. */
  droppedUpdates: number;
  /** Sessions closed because a response did not fit their buffer. */
  overflowCloses: number;
  /** Sessions closed by the idle timeout. */
  idleCloses: number;
}

/** Limits every session of a server applies. */
interface SessionLimits {
  maxMessageSize: number;
  outgoingBufferSize: number;
  maxSubscriptionsPerSession: number;
  handlerTimeout: number;
}

/**
 * The frame codec a server decodes requests and encodes responses with.
 * The WASM `codec` is the default; benchmarks swap in a protobuf-es one to
 * show what the WASM path buys. Results of `decodeRequests` are read from
 * `words` with the table layout of wasm/codec.ts.
 */
export interface RequestCodec {
  /** Decodes every complete request frame of `input`; returns the count. */
  decodeRequests(input: Uint8Array, maxMessageSize: number): number;
  /** The result table of the last decode (header, then entries). */
  readonly words: Int32Array;
  /** Encodes response frames (three fields each) into one buffer. */
  encodeResponses(
    fields: ArrayLike<number>,
    messages: ArrayLike<string | undefined>,
    payloads: ArrayLike<Uint8Array>,
    count: number,
  ): Uint8Array;
}

/** What sessions see of their server. */
export interface ServerCore {
  readonly codec: RequestCodec;
  readonly router: Router;
  readonly middleware: Middleware[];
  readonly limits: SessionLimits;
  readonly logger: Logger;
  readonly broker: Broker;
  readonly stats: ServerStats;
  readonly sessions: Map<number, Session>;
  readonly uids: Map<string, Session>;
  readonly groups: Map<string, Group>;
  /** Called once when a session has ended, with why. */
  sessionClosed(session: Session, reason: string): void;
}

/** Fresh, zeroed counters. */
export function newStats(): ServerStats {
  return {
    sessions: 0,
    subscriptions: 0,
    groupMemberships: 0,
    sessionsOpened: 0,
    sessionsRefused: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    malformedCloses: 0,
    droppedUpdates: 0,
    overflowCloses: 0,
    idleCloses: 0,
  };
}
