// The connection loop of a session: read from the byte stream, one codec
// call per read, dispatch every decoded frame, and write all the answers
// of one read in one corked write. Reading pauses while the outgoing
// buffer is over half full.

import { MALFORMED_REASONS, MAX_FRAMES } from "../wasm/codec.ts";
import { RequestFrames } from "../wasm/frames.ts";
import { RequestType } from "../wasm/wire.ts";
import type { ByteStream } from "../transport/byte_stream.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import { turnStarted } from "./_clock.ts";
import { dispatch } from "./_dispatch.ts";
import { refuseShuttingDown, throttle } from "./_rate_limit.ts";
import { serveReserved } from "./_resume.ts";
import type { Outbox } from "./_outbox.ts";
import type { ReadBuffer } from "./_read_buffer.ts";
import type { ServerSession } from "./_session.ts";

/**
 * What a session does with a malformed frame. `"close"` (streams with a
 * connection: TCP, WebSocket ...) closes the session. `"resync"` (a serial
 * line, which has no connection to close) discards what is buffered, then
 * discards whatever arrives until the line has been quiet for `quietMs`,
 * and starts again with the next byte. On such a line a silence of
 * `quietMs` also ends a frame: a partial frame still buffered when bytes
 * come after one was cut short (a peer reset mid-frame) and is discarded
 * the same way. "Quiet" is measured as how long a read waited for bytes.
 */
export type MalformedPolicy =
  | { readonly kind: "close" }
  | { readonly kind: "resync"; readonly quietMs: number };

/**
 * Reads and serves until the peer leaves; then closes the session, or
 * leaves it lingering for a resume (not when the stream says the peer
 * closed it on purpose). A resume moves the connection to
 * another session (`session.successor`) and the loop goes on with it.
 */
export async function serveConnection(
  session: ServerSession,
  policy: MalformedPolicy = { kind: "close" },
): Promise<void> {
  const { core, input, out, stream } = session;
  const halfBuffer = core.limits.outgoingBufferSize / 2;
  let reason = "peer closed the connection";
  /** The peer said it was leaving (a WebSocket close 1000/1001). */
  let left = false;
  /** While resynchronising: bytes are dropped until a quiet gap. */
  let discarding = false;
  /** What serving a read keeps, reused for every read. */
  const state = new ReadState(session);
  try {
    while (!session.closed && !session.draining && session.stream === stream) {
      if (out.queued > halfBuffer) {
        await out.drained();
        if (session.closed) break;
      }
      // Only a serial line measures quiet gaps: no clock read otherwise.
      const waitedFrom = policy.kind === "resync" ? performance.now() : 0;
      const n = await stream.read(input.space());
      if (n === null) {
        left = stream.peerClosed === true;
        break;
      }
      core.stats.bytesIn += n;
      /** Bytes of a frame that a quiet gap cut short. */
      let cut = 0;
      if (policy.kind === "resync") {
        const quiet = performance.now() - waitedFrom >= policy.quietMs;
        if (discarding && !quiet) continue; // Still the tail of a bad frame.
        discarding = false;
        if (quiet) cut = input.filled;
      }
      input.filled += n;
      if (cut > 0) {
        resync(session, `a frame was cut short after ${cut} bytes`);
        input.consume(cut);
      }
      if (input.filled < input.need) continue;
      let bad = process(state, session);
      if (bad instanceof Promise) bad = await bad;
      while (session.successor) session = session.successor;
      if (bad !== undefined) {
        if (policy.kind === "close") {
          malformedClose(session, bad);
          return;
        }
        resync(session, bad);
        input.consume(input.filled);
        discarding = true;
      } else input.relax(n);
      // A buffer replaced since the read was served (shrunk back) must not
      // stay alive through the cursor's kept data views.
      state.frames.forgetInput(input.bytes.buffer);
    }
  } catch (err) {
    if (!session.closed) reason = `read failed: ${errorMessage(err)}`;
  }
  if (session.draining) await session.close("server is shutting down");
  else if (left && session.stream === stream) await session.close(reason);
  else await session.lost(reason, stream);
}

/** Counts and logs a resynchronisation; the caller drops the bytes. */
function resync(session: ServerSession, why: string): void {
  session.core.stats.resyncs++;
  session.core.logger.warn(`${session}: ${why}; resynchronising`);
  session.input.need = 0;
}

function malformedClose(session: ServerSession, why: string): void {
  session.core.stats.malformedCloses++;
  session.core.logger.warn(`${session}: closing, ${why}`);
  session.close(why);
}

/** Why the first malformed frame of a read is malformed, if one is. */
type Outcome = string | undefined;

/**
 * What serving one read keeps from frame to frame, also across a wait (a
 * handler's promise, a rate limit): one per connection, reused.
 */
class ReadState {
  readonly core: ServerCore;
  readonly input: ReadBuffer;
  readonly out: Outbox;
  readonly stream: ByteStream;
  /** This connection's cursor over each decode. */
  readonly frames: RequestFrames = new RequestFrames(true);
  /** The session served (a resume request moves on to another). */
  session: ServerSession;
  /** Start of the decoded bytes in the read buffer. */
  offset = 0;
  /** The decoded bytes; frame offsets are relative to them. */
  chunk: Uint8Array = EMPTY;
  /** Whether serving took a turn of the event loop. */
  waited = false;
  /** Whether `lastFrameAt` was set for this read. */
  touched = false;
  /** The rest of the decoded frames are not served (a throttle refused). */
  skip = false;
  /** The wait is a rate limit's for the current frame. */
  throttled = false;
  /** Frames decoded since this read started or last yielded its turn. */
  served = 0;
  /** The wait is a yielded turn: decode the rest of the read next. */
  decode = false;
  /** The current frame passed its rate limit: serve it next. */
  admitted = false;
  /**
   * The server is shutting down and a frame had to wait for its rate
   * limit: it and the rest of the read are answered, not served.
   */
  refusing = false;

  constructor(session: ServerSession) {
    this.core = session.core;
    this.input = session.input;
    this.out = session.out;
    this.stream = session.stream;
    this.session = session;
  }
}

const EMPTY = new Uint8Array(0);
const goOn = (): boolean => true;

/**
 * Frames one read serves before it yields the event loop to other
 * sessions. Only a read of more than MAX_FRAMES frames reaches the check.
 */
export const TURN_FRAMES = 8 * MAX_FRAMES;

/**
 * A timer's turn, not a microtask's or a message's: only a wait for a timer
 * lets Deno poll the other sockets while one socket has bytes waiting.
 */
const nextTurn = (): Promise<boolean> =>
  new Promise((resolve) => setTimeout(resolve, 0, true));

/**
 * Decodes and dispatches every complete frame in the read buffer. Returns
 * why the first malformed frame is malformed, if one is found (the frames
 * before it have been served). Synchronous unless a handler's promise or
 * a rate limit must be waited for: most reads cost no promise.
 */
function process(
  r: ReadState,
  session: ServerSession,
): Outcome | Promise<Outcome> {
  session.begin();
  r.out.cork();
  r.session = session;
  r.offset = r.served = 0;
  r.waited =
    r.touched =
    r.skip =
    r.throttled =
    r.admitted =
    r.refusing =
    r.decode =
      false;
  let paused: Outcome | Promise<boolean>;
  try {
    paused = walk(r, true);
  } catch (err) {
    finish(r);
    throw err;
  }
  if (paused instanceof Promise) return resume(r, paused);
  finish(r);
  return paused;
}

/** Waits whenever {@link walk} asks to, and goes on where it stopped. */
async function resume(
  r: ReadState,
  paused: Promise<boolean>,
): Promise<Outcome> {
  try {
    for (;;) {
      const ok = await paused;
      if (r.throttled) {
        // Served next when admitted; else none of the rest of its decode.
        r.throttled = false;
        const session = r.session;
        if (ok) r.admitted = true;
        else if (
          session.draining && !session.closed && session.stream === r.stream
        ) {
          refuseShuttingDown(session, r.frames, r.chunk);
          r.refusing = true;
        } else r.skip = true;
      }
      r.out.cork();
      const decode = r.decode;
      r.decode = false;
      const next = walk(r, decode);
      if (!(next instanceof Promise)) return next;
      paused = next;
    }
  } finally {
    finish(r);
  }
}

/**
 * Serves frames from where `r` is, decoding at `r.offset` first when
 * `decode`. Returns the outcome once the read is served, or a promise to
 * wait for: a handler's (then go on with the next frame) or a rate
 * limit's (true: serve the frame it held; false: none of this decode).
 */
function walk(r: ReadState, decode: boolean): Outcome | Promise<boolean> {
  const { core, frames, input, out, stream } = r;
  let session = r.session;
  for (;;) {
    if (decode) {
      r.chunk = input.bytes.subarray(r.offset, input.filled);
      const codec = core.codec;
      codec.decodeRequests(r.chunk, core.limits.maxMessageSize);
      frames.load(codec.words);
      if (frames.count > 0 && !r.touched) {
        session.lastFrameAt = turnStarted();
        r.touched = true;
      }
      core.stats.framesIn += frames.count;
      r.served += frames.count;
    }
    decode = true;
    const skip = r.skip;
    r.skip = false;
    for (;;) {
      if (r.admitted) r.admitted = false; // The frame a throttle held.
      else {
        if (
          skip || session.closed || session.stream !== stream ||
          !frames.next()
        ) break;
        const limiter = session.limiter;
        if (limiter !== undefined && frames.type !== RequestType.PING) {
          if (r.refusing) {
            refuseShuttingDown(session, frames, r.chunk);
            continue;
          }
          const wait = limiter.admit(frames.pathHash, session.lastFrameAt);
          if (wait !== 0) {
            // Shutting down: answered now rather than after the wait.
            if (session.draining) {
              refuseShuttingDown(session, frames, r.chunk);
              r.refusing = true;
              continue;
            }
            r.waited = r.throttled = true;
            r.session = session;
            return throttle(session, frames, wait);
          }
        }
      }
      const resumed = serveReserved(session, frames, r.chunk);
      if (resumed !== undefined) {
        // What the old session answered so far is timed and counted now.
        core.ops.observer?.flush?.(session);
        // Kept on r at once: a throw from here on must end this session.
        session = r.session = resumed;
        continue;
      }
      const done = dispatch(session, frames, r.chunk);
      if (done === undefined) continue;
      // The table is shared by all sessions: keep the rest of ours.
      frames.detach();
      // Answers so far go out now, not after the slow handler (and are
      // timed now: another session's read may be served meanwhile).
      out.uncork();
      core.ops.observer?.flush?.(session);
      r.waited = true;
      r.session = session;
      return done.then(goOn);
    }
    r.session = session;
    if (frames.error !== 0) {
      core.ops.countMalformed(frames.error);
      return `malformed frame at byte ${r.offset + frames.errorAt}: ${
        MALFORMED_REASONS[frames.error] ?? `reason ${frames.error}`
      }`;
    }
    r.offset += frames.consumed;
    input.need = frames.need;
    if (
      frames.count < MAX_FRAMES || r.offset === input.filled ||
      session.closed
    ) {
      break;
    }
    if (r.served >= TURN_FRAMES) {
      // A read of tens of thousands of frames (a buffer grown towards
      // maxMessageSize): let other sessions' reads in before the rest.
      out.uncork();
      core.ops.observer?.flush?.(session);
      r.served = 0;
      r.waited = r.decode = true;
      r.session = session;
      return nextTurn();
    }
  }
  // Answers may still view the read buffer: encode them before the
  // buffer is compacted and reused.
  out.uncork();
  input.consume(r.offset);
  return undefined;
}

/** Ends serving a read, whichever way it went. */
function finish(r: ReadState): void {
  // Keep no view of the read buffer: it may be replaced (shrunk) meanwhile
  // (the cursor lets go of its views after the read, in serveConnection).
  r.chunk = EMPTY;
  r.out.uncork();
  // Only a read served in one go may skip reading the clock again.
  r.session.end(r.waited || !r.touched);
  r.core.ops.observer?.flush?.(r.session);
}
