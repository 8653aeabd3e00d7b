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

/** What a session's running concurrent handlers hold. */
interface Held {
  handlers: number;
  bytes: number;
}

const held = new WeakMap<ServerSession, Held>();

/**
 * Serves a REQUEST to a concurrent handler. Returns undefined when the
 * handler runs on its own; its answer's promise, for the read to wait
 * for, when the session's other handlers are at their bound:
 * {@link MAX_CONCURRENT} running, or more request data than
 * `outgoingBufferSize` (one runs on its own whatever its size). A handler
 * counts until its own promise settles, also past its time limit (its
 * answer went out then, but it still runs and holds its data).
 */
export function concurrentRequest(
  session: ServerSession,
  route: Route,
  id: number,
  data: Uint8Array,
): Promise<void> | undefined {
  let h = held.get(session);
  if (!h) held.set(session, h = { handlers: 0, bytes: 0 });
  const bytes = data.length;
  const full = h.handlers >= MAX_CONCURRENT ||
    (h.handlers > 0 &&
      h.bytes + bytes > session.core.limits.outgoingBufferSize);
  h.handlers++;
  h.bytes += bytes;
  let counted = true;
  const release = () => {
    if (!counted) return;
    counted = false;
    h.handlers--;
    h.bytes -= bytes;
  };
  // The handler's own end, when it returns a promise (after any
  // middleware has called it).
  let running: Promise<unknown> | undefined;
  const handler = route.handler!;
  const last = (ctx: RequestContext) => {
    const result = handler(ctx);
    if (result instanceof Promise) running = result;
    return result;
  };
  const ctx = new RequestContext(session, route, id, data.slice());
  const done = invoke(session, ctx, last);
  // Released when the answer is out and the handler has ended (a handler
  // that async middleware calls only after the time limit is not counted).
  const answered = () => {
    if (running) running.then(release, release);
    else release();
  };
  if (done === undefined) {
    answered();
    return undefined;
  }
  done.then(answered, answered);
  return full ? done : undefined;
}
