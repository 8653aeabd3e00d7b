// Session resumption over the reserved paths. `/_nanorpc/session` issues a
// resume token; a session holding one lingers when its connection drops,
// buffering its updates (bounded), until `/_nanorpc/resume` with the token
// moves a new connection onto it or the grace period ends.
// `/_nanorpc/goodbye` is a peer leaving on purpose: its session ends now.

import { PATH_NONE, PATH_STRING } from "../wasm/codec.ts";
import type { RequestFrames } from "../wasm/frames.ts";
import { fnv1a, RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { FRAME_OVERHEAD } from "./_outbox.ts";
import { LingerBuffer } from "./_linger_buffer.ts";
import type { ServerSession } from "./_session.ts";
import type { ResumeBufferOptions } from "./ops_options.ts";
import { timerFor } from "./_timer.ts";

/** REQUEST it for a resume token. */
export const SESSION_PATH = "/_nanorpc/session";
/** REQUEST it with a token to take the token's session over. */
export const RESUME_PATH = "/_nanorpc/resume";
/** REQUEST it to end the session now, rather than leave it lingering. */
export const GOODBYE_PATH = "/_nanorpc/goodbye";
const SESSION_HASH = fnv1a(SESSION_PATH);
const RESUME_HASH = fnv1a(RESUME_PATH);
const GOODBYE_HASH = fnv1a(GOODBYE_PATH);
const PATH_BYTES = new Map([
  [SESSION_HASH, new TextEncoder().encode(SESSION_PATH)],
  [RESUME_HASH, new TextEncoder().encode(RESUME_PATH)],
  [GOODBYE_HASH, new TextEncoder().encode(GOODBYE_PATH)],
]);
/** Random bytes in a token (128 bits). */
const TOKEN_BYTES = 16;
/** Longest token data looked up; anything longer is no token of ours. */
const MAX_TOKEN = 64;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Tokens, lingering and takeover for one server. */
export class Resumption {
  readonly grace: number;
  readonly #maxUpdates: number;
  readonly #maxBytes: number;
  readonly #tokens = new Map<string, ServerSession>();
  /** Lingering sessions, oldest first; at most `#maxLingering`. */
  readonly #lingering = new Set<ServerSession>();
  readonly #maxLingering: number;

  constructor(
    grace: number,
    buffer: ResumeBufferOptions,
    maxLingering: number,
  ) {
    this.grace = grace;
    this.#maxLingering = maxLingering;
    this.#maxUpdates = bound(
      "resumeBuffer.maxUpdates",
      buffer.maxUpdates,
      1024,
    );
    this.#maxBytes = bound("resumeBuffer.maxBytes", buffer.maxBytes, 1 << 20);
  }

  /** Tokens valid now (one at most per session). */
  get tokens(): number {
    return this.#tokens.size;
  }

  /** A fresh token for `session`; its previous one stops working. */
  issue(session: ServerSession): string {
    this.#forget(session);
    const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
    const token = btoa(String.fromCharCode(...bytes))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    session.resumeToken = token;
    this.#tokens.set(token, session);
    return token;
  }

  /**
   * The connection of `session` dropped: if it holds a token, it lingers
   * (its stream closed, its updates buffered) and true is returned.
   */
  linger(session: ServerSession, reason: string): boolean {
    if (session.resumeToken === undefined || session.draining) return false;
    const { stats } = session.core;
    // As many may linger as may be connected (maxSessions): the oldest
    // makes room, as if its grace period had ended.
    for (const oldest of this.#lingering) {
      if (this.#lingering.size < this.#maxLingering) break;
      this.#lingering.delete(oldest);
      stats.resumesExpired++;
      oldest.close(`${this.#maxLingering} sessions lingered already`);
    }
    const buffer = new LingerBuffer(this.#maxUpdates, this.#maxBytes, () => {
      session.droppedUpdates++;
      stats.droppedUpdates++;
    });
    const timer = timerFor(
      () => {
        stats.resumesExpired++;
        session.close(`not resumed within ${this.grace} ms after: ${reason}`);
      },
      this.grace,
      true,
    );
    session.linger = { buffer, timer };
    session.detach(buffer, reason);
    this.#lingering.add(session);
    stats.lingeringSessions++;
    session.core.logger.debug(`${session} lingers: ${reason}`);
    return true;
  }

  /**
   * The peer of `session` is leaving on purpose: its token stops working,
   * the goodbye is answered OK, and the session closes now (after the
   * answer is flushed) instead of lingering when the connection goes.
   */
  goodbye(session: ServerSession, id: number): void {
    this.#forget(session);
    session.respond(id, ResponseType.RESPONSE, Status.OK, undefined, EMPTY);
    session.close("the peer said goodbye");
  }

  /** `session` ended: its token and its lingering end with it. */
  ended(session: ServerSession): void {
    this.#forget(session);
    this.#unlinger(session);
  }

  /**
   * `current` asked to resume the session of `tokenBytes`. Answers, and
   * returns the session the connection now serves.
   */
  resume(
    current: ServerSession,
    id: number,
    tokenBytes: Uint8Array,
  ): ServerSession {
    const { stats } = current.core;
    const token = tokenBytes.length <= MAX_TOKEN
      ? decoder.decode(tokenBytes)
      : "";
    const target = this.#tokens.get(token);
    if (!target || target === current || target.closed || target.draining) {
      stats.resumesRefused++;
      current.respond(
        id,
        ResponseType.RESPONSE,
        Status.NOT_FOUND,
        "Unknown, expired or already used resume token: this connection goes on as a new session (subscribe again)",
        EMPTY,
      );
      return current;
    }
    // What this connection set up would be lost in the takeover: refused.
    if (
      current.subscriptions.size > 0 || current.uid !== undefined ||
      current.groups.size > 0 ||
      (current.core.forward?.home.count(current) ?? 0) > 0
    ) {
      stats.resumesRefused++;
      current.respond(
        id,
        ResponseType.RESPONSE,
        Status.NOT_FOUND,
        "A resume must come before any subscription, group or bind on its connection: this connection goes on as a new session",
        EMPTY,
      );
      return current;
    }
    const linger = target.linger;
    // Still connected: the server has not noticed the old connection drop.
    if (!linger) {
      target.stream.close("the session resumed on another connection");
    }
    this.#unlinger(target);
    target.adopt(current);
    // process() ends the read it serves on whichever session it ends on:
    // the read moves from `current` to `target`.
    current.end(false);
    target.begin();
    const next = this.issue(target);
    // The replay goes out after the answer, within the half of the outgoing
    // buffer updates may use: what cannot go is lost, and the answer says so.
    if (linger) {
      const buffer = linger.buffer;
      const answer = encodeResumeAnswer(buffer.lost + buffer.size, next);
      buffer.fit(target.updateRoom() - answer.length - FRAME_OVERHEAD);
    }
    const lost = linger?.buffer.lost ?? 0;
    target.respond(
      id,
      ResponseType.RESPONSE,
      Status.OK,
      undefined,
      encodeResumeAnswer(lost, next),
    );
    linger?.buffer.replay((sub, data) => target.queueUpdate(sub, data, true));
    current.handOver(`resumed session ${target.id}`);
    stats.resumes++;
    current.core.logger.debug(`${target} resumed (${lost} updates lost)`);
    return target;
  }

  #forget(session: ServerSession): void {
    const token = session.resumeToken;
    if (token === undefined) return;
    if (this.#tokens.get(token) === session) this.#tokens.delete(token);
    session.resumeToken = undefined;
  }

  #unlinger(session: ServerSession): void {
    const linger = session.linger;
    if (!linger) return;
    clearTimeout(linger.timer);
    this.#lingering.delete(session);
    session.linger = undefined;
    session.core.stats.lingeringSessions--;
  }
}

/**
 * Serves a REQUEST to a reserved session path, when `frames` is at one.
 * Returns the session the connection serves afterwards (another one after
 * a resume), or undefined when the frame is not for a reserved path.
 */
export function serveReserved(
  session: ServerSession,
  frames: RequestFrames,
  input: Uint8Array,
): ServerSession | undefined {
  // Every frame is checked: compared as signed keys (never boxed numbers).
  const key = frames.pathKey;
  if (
    key !== (SESSION_HASH | 0) && key !== (RESUME_HASH | 0) &&
    key !== (GOODBYE_HASH | 0)
  ) return undefined;
  const hash = key >>> 0;
  const kind = frames.pathKind;
  if (frames.type !== RequestType.REQUEST || kind === PATH_NONE) return;
  if (
    kind === PATH_STRING &&
    !same(input, frames.pathOffset, frames.pathLength, PATH_BYTES.get(hash)!)
  ) return undefined;
  const id = frames.id;
  const resumption = session.core.ops.resume;
  if (!resumption) {
    session.respond(
      id,
      ResponseType.RESPONSE,
      Status.NOT_FOUND,
      "Session resumption is off on this server (resumeGrace is 0)",
      EMPTY,
    );
    return session;
  }
  if (hash === RESUME_HASH) {
    return resumption.resume(session, id, frames.data(input));
  }
  if (hash === GOODBYE_HASH) {
    resumption.goodbye(session, id);
    return session;
  }
  const token = encoder.encode(resumption.issue(session));
  session.respond(id, ResponseType.RESPONSE, Status.OK, undefined, token);
  return session;
}

/**
 * The data of a resume's OK answer, the protobuf encoding of
 * `message ResumeAnswer { uint64 lost = 1; bytes token = 2; }`: how many
 * updates were dropped while the session lingered (a lower bound: what its
 * outbox still held for the dead connection is not counted), and the next
 * token.
 */
export function encodeResumeAnswer(lost: number, token: string): Uint8Array {
  const tokenBytes = encoder.encode(token);
  const out: number[] = [];
  if (lost > 0) {
    out.push(0x08);
    for (let v = lost;; v = Math.floor(v / 128)) {
      if (v < 128) {
        out.push(v);
        break;
      }
      out.push((v % 128) | 0x80);
    }
  }
  out.push(0x12, tokenBytes.length, ...tokenBytes);
  return new Uint8Array(out);
}

function same(
  input: Uint8Array,
  off: number,
  len: number,
  path: Uint8Array,
): boolean {
  if (len !== path.length) return false;
  for (let i = 0; i < len; i++) if (input[off + i] !== path[i]) return false;
  return true;
}

function bound(name: string, value: number | undefined, fallback: number) {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a whole number >= 0, got ${n}`);
  }
  return n;
}
