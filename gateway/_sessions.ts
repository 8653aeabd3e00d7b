// Finding the Session object of a loopback session: the server announces
// every session with `sessionopen`, and a loopback session is known by
// its address object, which the session keeps as its `remoteAddr`.

import type { Server } from "../server/server.ts";
import type { Session } from "../server/session.ts";
import type { PeerAddress } from "../transport/byte_stream.ts";

/**
 * Resolves with the session whose `remoteAddr` is `addr` once it opens,
 * or with `undefined` if `ended` settles first (the server refused it).
 */
export type SessionTracker = (
  addr: PeerAddress,
  ended: Promise<void>,
) => Promise<Session | undefined>;

/** A tracker for `server`; it listens for `sessionopen` once. */
export function sessionTracker(server: Server): SessionTracker {
  const waiting = new Map<PeerAddress, (session: Session) => void>();
  server.addEventListener("sessionopen", (event) => {
    const session = (event as Event & { session: Session }).session;
    const resolve = waiting.get(session.remoteAddr);
    if (!resolve) return;
    waiting.delete(session.remoteAddr);
    resolve(session);
  });
  return async (addr, ended) => {
    try {
      return await Promise.race([
        new Promise<Session>((resolve) => waiting.set(addr, resolve)),
        ended.then(() => undefined),
      ]);
    } finally {
      waiting.delete(addr);
    }
  };
}
