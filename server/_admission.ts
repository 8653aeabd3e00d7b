// Letting peers in and out: the session limit and the handshake hook on
// the way in, the idle sweep, and draining every session at shutdown.

import type { ByteStream } from "../transport/byte_stream.ts";
import { formatPeer } from "../transport/byte_stream.ts";
import { guardStream } from "../transport/_guarded_stream.ts";
import { serveConnection } from "./_connection.ts";
import { timerFor } from "./_timer.ts";
import { errorMessage, type ServerCore } from "./_core.ts";
import type { ServeOptions, ServerOptions } from "./options.ts";
import { ServerSession } from "./_session.ts";

/** `maxSessions` when not given. */
export const DEFAULT_MAX_SESSIONS = 100_000;

export class Admission {
  #core: ServerCore;
  #options: ServerOptions;
  #stopping: () => boolean;
  #opened: (session: ServerSession) => void;
  #handshaking = 0;

  constructor(
    core: ServerCore,
    options: ServerOptions,
    stopping: () => boolean,
    opened: (session: ServerSession) => void,
  ) {
    this.#core = core;
    this.#options = options;
    this.#stopping = stopping;
    this.#opened = opened;
  }

  /** Admits the peer of `stream` (or refuses it) and serves it until it ends. */
  async serve(given: ByteStream, options: ServeOptions = {}): Promise<void> {
    const core = this.#core;
    // Sessions write from microtasks and close without waiting: a custom
    // stream's synchronous throw must become a rejection there.
    const stream = guardStream(given, (err) =>
      core.logger.warn(
        `closing the stream of ${formatPeer(given.remoteAddr)} threw: ${
          errorMessage(err)
        }`,
      ));
    if (!(await this.#admit(stream))) return;
    const session = new ServerSession(core, stream);
    core.sessions.set(session.id, session);
    core.stats.sessions++;
    core.stats.sessionsOpened++;
    this.#opened(session);
    const quietMs = options.resyncQuietMs;
    await serveConnection(
      session,
      quietMs === undefined ? { kind: "close" } : { kind: "resync", quietMs },
    );
  }

  async #admit(stream: ByteStream): Promise<boolean> {
    const core = this.#core;
    const max = this.#options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    // A lingering session has no connection: counting it would refuse the
    // very connection that comes to resume it.
    const open = core.sessions.size - core.stats.lingeringSessions;
    if (this.#stopping() || open + this.#handshaking >= max) {
      const why = this.#stopping()
        ? "server is shutting down"
        : `maxSessions (${max}) reached`;
      return this.#refuse(stream, why);
    }
    const refusal = core.ops.refusal(stream.remoteAddr, core.stats);
    if (refusal) return this.#refuse(stream, refusal);
    const hook = this.#options.handshake;
    if (!hook) return true;
    this.#handshaking++;
    let ok: boolean | void = false;
    let why = "handshake hook returned false";
    try {
      ok = await hook({
        remoteAddr: stream.remoteAddr,
        transport: stream.transport,
      });
    } catch (err) {
      why = `handshake hook threw: ${errorMessage(err)}`;
    } finally {
      this.#handshaking--;
    }
    // A drain (or shutdown) that began meanwhile has already taken the
    // sessions it closes: one admitted now would outlive it.
    if (this.#stopping()) {
      return this.#refuse(stream, "server is shutting down");
    }
    if (core.ops.refuseAll) {
      return this.#refuse(
        stream,
        "server is draining: connect to another node",
      );
    }
    return ok === false ? this.#refuse(stream, why) : true;
  }

  #refuse(stream: ByteStream, why: string): false {
    this.#core.stats.sessionsRefused++;
    this.#core.logger.warn(`refused ${formatPeer(stream.remoteAddr)}: ${why}`);
    stream.close(why);
    return false;
  }
}

/** Closes sessions that sent nothing for `limit` ms and run no handler. */
export function closeIdle(core: ServerCore, limit: number): void {
  const now = performance.now();
  for (const session of core.sessions.values()) {
    if (
      !session.closed && !session.busy && !session.linger &&
      now - session.lastFrameAt > limit
    ) {
      core.stats.idleCloses++;
      session.close(`idle for more than ${limit} ms`);
    }
  }
}

/**
 * Stops reading from every session, lets the requests already read be
 * answered (for at most `limit` ms), then flushes and closes them all.
 */
export async function drainSessions(
  core: ServerCore,
  limit: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((r) => timer = timerFor(r, limit));
  const sessions = [...core.sessions.values()];
  for (const session of sessions) session.draining = true;
  await Promise.all(sessions.map(async (session) => {
    await Promise.race([session.settled(), deadline]);
    await session.close("server is shutting down");
  }));
  clearTimeout(timer);
}
