// The connection loop of a session: read from the byte stream, one codec
// call per read, dispatch every decoded frame, and write all the answers
// of one read in one corked write. Reading pauses while the outgoing
// buffer is over half full.

import { MALFORMED_REASONS, MAX_FRAMES } from "../wasm/codec.ts";
import { RequestFrames } from "../wasm/frames.ts";
import { RequestType } from "../wasm/wire.ts";
import { errorMessage } from "./_core.ts";
import { dispatch } from "./_dispatch.ts";
import { throttle } from "./_rate_limit.ts";
import { serveReserved } from "./_resume.ts";
import type { ServerSession } from "./_session.ts";

/**
 * What a session does with a malformed frame. `"close"` (streams with a
 * connection: TCP, WebSocket …) closes the session. `"resync"` (a serial
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
 * leaves it lingering for a resume. A resume moves the connection to
 * another session (`session.successor`) and the loop goes on with it.
 */
export async function serveConnection(
  session: ServerSession,
  policy: MalformedPolicy = { kind: "close" },
): Promise<void> {
  const { core, input, out, stream } = session;
  const halfBuffer = core.limits.outgoingBufferSize / 2;
  let reason = "peer closed the connection";
  /** While resynchronising: bytes are dropped until a quiet gap. */
  let discarding = false;
  /** This connection's cursor over each decode, reused for every read. */
  const frames = new RequestFrames();
  try {
    while (!session.closed && !session.draining && session.stream === stream) {
      if (out.queued > halfBuffer) {
        await out.drained();
        if (session.closed) break;
      }
      const waitedFrom = performance.now();
      const n = await stream.read(input.space());
      if (n === null) break;
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
      const bad = await process(session, frames);
      while (session.successor) session = session.successor;
      if (bad !== undefined) {
        if (policy.kind === "close") {
          malformedClose(session, bad);
          return;
        }
        resync(session, bad);
        input.consume(input.filled);
        discarding = true;
        continue;
      }
      input.relax(n);
    }
  } catch (err) {
    if (!session.closed) reason = `read failed: ${errorMessage(err)}`;
  }
  if (session.draining) await session.close("server is shutting down");
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

/**
 * Decodes and dispatches every complete frame in the read buffer. Returns
 * why the first malformed frame is malformed, if one is found (the frames
 * before it have been served).
 */
async function process(
  session: ServerSession,
  frames: RequestFrames,
): Promise<string | undefined> {
  const { core, input, out, stream } = session;
  session.begin();
  out.cork();
  /** Whether this call took a turn of the event loop, or read the clock. */
  let waited = false;
  let touched = false;
  try {
    let offset = 0;
    for (;;) {
      const chunk = input.bytes.subarray(offset, input.filled);
      const codec = core.codec;
      codec.decodeRequests(chunk, core.limits.maxMessageSize);
      frames.load(codec.words);
      if (frames.count > 0 && !touched) {
        session.lastFrameAt = performance.now();
        touched = true;
      }
      core.stats.framesIn += frames.count;
      while (!session.closed && session.stream === stream && frames.next()) {
        const limiter = session.limiter;
        if (limiter !== undefined && frames.type !== RequestType.PING) {
          const wait = limiter.admit(frames.pathHash, session.lastFrameAt);
          if (wait !== 0) {
            waited = true;
            if (!(await throttle(session, frames, wait))) break;
          }
        }
        const resumed = serveReserved(session, frames, chunk);
        if (resumed !== undefined) {
          session = resumed;
          continue;
        }
        const done = dispatch(session, frames, chunk);
        if (done === undefined) continue;
        // The table is shared by all sessions: keep the rest of ours.
        frames.detach();
        // Answers so far go out now, not after the slow handler.
        out.uncork();
        waited = true;
        await done;
        out.cork();
      }
      if (frames.error !== 0) {
        core.ops.countMalformed(frames.error);
        return `malformed frame at byte ${offset + frames.errorAt}: ${
          MALFORMED_REASONS[frames.error] ?? `reason ${frames.error}`
        }`;
      }
      offset += frames.consumed;
      input.need = frames.need;
      if (
        frames.count < MAX_FRAMES || offset === input.filled || session.closed
      ) {
        break;
      }
    }
    // Answers may still view the read buffer: encode them before the
    // buffer is compacted and reused.
    out.uncork();
    input.consume(offset);
  } finally {
    out.uncork();
    // Only a read served in one go may skip reading the clock again.
    session.end(waited || !touched);
    core.ops.observer?.flush?.(session);
  }
}
