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
  /** Connections refused by `maxSessions` or the handshake hook. */
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
export interface SessionLimits {
  maxMessageSize: number;
  outgoingBufferSize: number;
  maxSubscriptionsPerSession: number;
  handlerTimeout: number;
}

/** What sessions see of their server. */
export interface ServerCore {
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
