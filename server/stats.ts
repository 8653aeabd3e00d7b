/**
 * The counters a server keeps; `server.stats()` returns a snapshot.
 *
 * @module
 */

/**
 * Counters of a server since it was created.
 *
 * @example
 * ```ts
 * import { Server } from "@nanorpc/nanorpc/server";
 *
 * const server = new Server();
 * const { sessions, droppedUpdates } = server.stats();
 * console.log(sessions, droppedUpdates); // 0 0
 * ```
 */
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
  /**
   * Times a session served with `resyncQuietMs` (a serial line) discarded
   * a malformed or cut-short frame and waited for a quiet gap.
   */
  resyncs: number;
  /** Updates dropped because a session's outgoing buffer was full. */
  droppedUpdates: number;
  /** Sessions closed because a response did not fit their buffer. */
  overflowCloses: number;
  /** Sessions closed by the idle timeout. */
  idleCloses: number;
  /** Messages the broker had to drop (see `Broker.dropped`). */
  brokerDropped: number;
  /** Updates queued for sessions (or buffered for lingering ones). */
  updatesSent: number;
  /** Requests that waited for their session's rate limit. */
  rateLimitedRequests: number;
  /** Sessions closed because they stayed over their rate limit. */
  rateLimitCloses: number;
  /** Connections refused by `connectionRateLimit` (also in `sessionsRefused`). */
  connectionsRateLimited: number;
  /** Sessions whose connection dropped, waiting to be resumed now. */
  lingeringSessions: number;
  /** Sessions resumed on a new connection. */
  resumes: number;
  /** `/_nanorpc/resume` requests answered NOT_FOUND. */
  resumesRefused: number;
  /**
   * Lingering sessions that ended unresumed: their grace period passed, or
   * `maxSessions` sessions lingered already.
   */
  resumesExpired: number;
  /** Sessions closed by `server.drain()`. */
  drainCloses: number;
  /**
   * Forwarded calls that changed a session's groups and whose answer
   * already carried the most group broadcasts it may: the later ones went
   * through the broker (they may reach the session's node before the
   * change).
   */
  carryOverflows: number;
  /**
   * Topic filters that threw, and updates or pushes a typed topic could
   * not decode (each also logged, at most once a second per topic).
   */
  topicFailures: number;
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
    resyncs: 0,
    droppedUpdates: 0,
    overflowCloses: 0,
    idleCloses: 0,
    brokerDropped: 0,
    updatesSent: 0,
    rateLimitedRequests: 0,
    rateLimitCloses: 0,
    connectionsRateLimited: 0,
    lingeringSessions: 0,
    resumes: 0,
    resumesRefused: 0,
    resumesExpired: 0,
    drainCloses: 0,
    carryOverflows: 0,
    topicFailures: 0,
  };
}
