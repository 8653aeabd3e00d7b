// Protocol dispatch of one decoded request frame: PING, lookup by path
// hash, not-found, hash collisions, unsubscribe, and SUBSCRIBE whose
// subscription attaches only when its OK ack is queued.

import { PATH_HASH, PATH_NONE, PATH_STRING } from "../wasm/codec.ts";
import type { RequestFrames } from "../wasm/frames.ts";
import { InternalError } from "../protocol/errors.ts";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { errorMessage } from "./_core.ts";
import { RequestContext, SubscribeContext } from "./_context.ts";
import { invoke, type Pending } from "./_invoke.ts";
import { pathMatches, type Route } from "./_router.ts";
import type { ServerSession } from "./_session.ts";
import { checkFilterSize } from "./_subscriptions.ts";
import { concurrentRequest } from "./_concurrent.ts";

const EMPTY = new Uint8Array(0);
// A leading U+FEFF is part of a path, not a byte-order mark.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
/** Longest path quoted back in a message. */
const QUOTE = 200;

/**
 * Serves the frame `frame` is at; its offsets are relative to `input`, the
 * bytes that were decoded. Returns a promise only when the caller must wait
 * for it before serving the next frame.
 */
export function dispatch(
  session: ServerSession,
  frame: RequestFrames,
  input: Uint8Array,
): Promise<void> | undefined {
  // Most frames: a REQUEST with data to a registered handler. This path is
  // kept small so the compiler inlines what it calls; everything else
  // (PING, SUBSCRIBE, misses, collisions, unsubscribes) is `dispatchAny`.
  if (frame.type === RequestType.REQUEST && frame.dataLength !== 0) {
    const kind = frame.pathKind;
    const route = kind === PATH_NONE
      ? undefined
      : session.core.router.lookup(frame.pathKey);
    if (
      route?.handler !== undefined &&
      (kind === PATH_HASH ||
        pathMatches(route, input, frame.pathOffset, frame.pathLength))
    ) {
      return request(session, route, frame.id, frame.data(input));
    }
  }
  return dispatchAny(session, frame, input);
}

/** {@link dispatch} of any frame. */
function dispatchAny(
  session: ServerSession,
  frame: RequestFrames,
  input: Uint8Array,
): Promise<void> | undefined {
  const id = frame.id;
  const type = frame.type;
  if (type === RequestType.PING) {
    session.respond(id, ResponseType.PONG, Status.OK, undefined, EMPTY);
    return;
  }
  if (type !== RequestType.REQUEST && type !== RequestType.SUBSCRIBE) {
    session.core.ops.observer?.refused(undefined, false, Status.INTERNAL_ERROR);
    session.respond(
      id,
      ResponseType.RESPONSE,
      Status.INTERNAL_ERROR,
      `Unsupported request type ${type}: send PING, REQUEST or SUBSCRIBE`,
      EMPTY,
    );
    return;
  }
  const kind = frame.pathKind;
  const key = frame.pathKey;
  const route = kind === PATH_NONE
    ? undefined
    : session.core.router.lookup(key);
  const pathOff = frame.pathOffset;
  const pathLen = frame.pathLength;
  if (
    route && kind === PATH_STRING &&
    !pathMatches(route, input, pathOff, pathLen)
  ) {
    // The spec's error table: a path whose hash collides with a registered
    // one is an internal error, not a miss.
    session.core.ops.observer?.refused(
      undefined,
      type === RequestType.SUBSCRIBE,
      Status.INTERNAL_ERROR,
    );
    session.respond(
      id,
      ResponseType.RESPONSE,
      Status.INTERNAL_ERROR,
      `Path ${
        quote(input, pathOff, pathLen)
      } has the same FNV-1a hash as the registered path ${route.path}; rename one of them`,
      EMPTY,
    );
    return;
  }
  if (type === RequestType.REQUEST && frame.dataLength === 0 && route) {
    // An empty REQUEST to a subscription's path and id unsubscribes.
    const sub = session.subscriptions.get(id);
    if (sub && sub.topic.route === route) {
      session.subscriptions.remove(sub);
      session.core.ops.observer?.refused(route, false, Status.OK);
      session.respond(id, ResponseType.RESPONSE, Status.OK, undefined, EMPTY);
      return;
    }
  }
  const data = frame.data(input);
  const target = type === RequestType.REQUEST ? route?.handler : route?.topic;
  const forward = session.core.forward;
  if ((!route || !target) && forward && kind !== PATH_NONE) {
    // Another node of the cluster may serve it (cluster/, server/forward.ts).
    return forward.home.miss(
      session,
      type === RequestType.REQUEST ? "request" : "subscribe",
      id,
      key >>> 0,
      kind === PATH_STRING
        ? decoder.decode(input.subarray(pathOff, pathOff + pathLen))
        : undefined,
      data,
    );
  }
  if (!route || !target) {
    const what = type === RequestType.REQUEST ? "handler" : "topic";
    const message = kind === PATH_NONE
      ? `No ${what}: the request has no path or path_hash`
      : kind === PATH_STRING
      ? `No ${what} for path ${quote(input, pathOff, pathLen)}`
      : `No ${what} for path hash 0x${
        (key >>> 0).toString(16).padStart(8, "0")
      }`;
    session.core.ops.observer?.refused(
      route,
      type === RequestType.SUBSCRIBE,
      Status.NOT_FOUND,
    );
    session.respond(
      id,
      ResponseType.RESPONSE,
      Status.NOT_FOUND,
      message,
      EMPTY,
    );
    return;
  }
  return type === RequestType.REQUEST
    ? request(session, route, id, data)
    : subscribe(session, route, id, data);
}

function request(
  session: ServerSession,
  route: Route,
  id: number,
  data: Uint8Array,
): Promise<void> | undefined {
  if (route.options.concurrent === true) {
    return concurrentRequest(session, route, id, data);
  }
  const ctx = new RequestContext(session, route, id, data);
  return invoke(session, ctx, route.handler!);
}

/**
 * The last step of a SUBSCRIBE checks the limit and decodes the filter, but
 * the subscription attaches only when the OK ack is queued, so a refused,
 * timed-out or abandoned SUBSCRIBE leaves nothing behind and no UPDATE can
 * overtake the ack: what middleware sends with `sendUpdate` meanwhile
 * waits and follows the ack (or is dropped with a refusal).
 */
function subscribe(
  session: ServerSession,
  route: Route,
  id: number,
  data: Uint8Array,
): Promise<void> | undefined {
  const ctx = new SubscribeContext(session, route, id, data);
  const pending: Pending = {};
  const prepare = (ctx: RequestContext): undefined => {
    const topic = route.topic!;
    session.subscriptions.checkLimit(ctx.requestId);
    checkFilterSize(ctx.data.length, session.core.limits.maxFilterSize);
    let sub: ReturnType<typeof topic.prepare>;
    try {
      sub = topic.prepare(session, ctx.requestId, ctx.data);
    } catch (err) {
      throw new InternalError(
        `Invalid subscription filter for ${topic.path}: ${errorMessage(err)}`,
      );
    }
    pending.commit = () => {
      if (!session.closed) session.subscriptions.add(sub);
    };
  };
  const last = (ctx: RequestContext) =>
    route.topic!.whenDecodable(ctx.data, () => prepare(ctx));
  session.awaitAck(id);
  pending.acked = () => session.acked(id, true);
  const done = invoke(session, ctx, last, pending);
  if (done === undefined) {
    session.acked(id, false); // Nothing if the OK ack let them go already.
    return undefined;
  }
  return done.finally(() => session.acked(id, false));
}

function quote(bytes: Uint8Array, off: number, len: number): string {
  const text = decoder.decode(bytes.subarray(off, off + Math.min(len, QUOTE)));
  return len > QUOTE ? `${text}\u2026` : text;
}
