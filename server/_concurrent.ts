// A REQUEST to a handler registered with `{ concurrent: true }`: it runs
// alongside the session's later requests, on a copy of its data, within a
// bound per session so that a pipelining peer cannot start handlers
// without end.

import { RequestContext } from "./_context.ts";
import { invoke } from "./_invoke.ts";
import type { Route } from "./_router.ts";
import type { ServerSession } from "./_session.ts";

/** Most concurrent handlers of one session running on their own. */
const MAX_CONCURRENT = 1024;

/** What a session's concurrent handlers running on their own hold. */
interface Held {
  handlers: number;
  bytes: number;
}

const held = new WeakMap<ServerSession, Held>();

/**
 * Serves a REQUEST to a concurrent handler. Returns undefined when the
 * handler runs on its own; its promise, for the read to wait for, when
 * the session's others are at their bound: {@link MAX_CONCURRENT}
 * handlers, or more request data than `outgoingBufferSize` (one runs on
 * its own whatever its size).
 */
export function concurrentRequest(
  session: ServerSession,
  route: Route,
  id: number,
  data: Uint8Array,
): Promise<void> | undefined {
  const ctx = new RequestContext(session, route, id, data.slice());
  const done = invoke(session, ctx, route.handler!, false);
  if (done === undefined) return undefined;
  let h = held.get(session);
  if (!h) held.set(session, h = { handlers: 0, bytes: 0 });
  const bytes = data.length;
  if (
    h.handlers >= MAX_CONCURRENT ||
    (h.handlers > 0 && h.bytes + bytes > session.core.limits.outgoingBufferSize)
  ) {
    return done;
  }
  h.handlers++;
  h.bytes += bytes;
  const release = () => {
    h.handlers--;
    h.bytes -= bytes;
  };
  done.then(release, release);
  return undefined;
}
