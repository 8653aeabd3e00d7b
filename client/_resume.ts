/**
 * The client's side of session resumption: it asks for a resume token after
 * connecting (when the server offers them), offers it first thing on the
 * next connection, and keeps the next token the server answers with; on
 * `close()` it says goodbye, so the session ends instead of lingering. It
 * also runs the `beforeReconnect` hook.
 *
 * A token is never offered without bound: the answer to a resume has a
 * time limit even when requests have none, and a token whose resume went
 * unanswered on {@link MAX_UNANSWERED} connections in a row (each ended
 * before the answer) over at least {@link GIVE_UP_AFTER} ms is given up
 * for a new session.
 *
 * @module
 */

import { PATH_STRING } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { Call, type OutFrame } from "./_call.ts";
import type { Connection } from "./_connection.ts";
import { ConnectionLostError, ProtocolError, TimeoutError } from "./errors.ts";
import type { RpcResponse } from "./options.ts";
import type { Settings } from "./_options.ts";
import type { SubscriptionImpl } from "./_subscription.ts";

const encoder = new TextEncoder();
const SESSION_PATH = encoder.encode("/_nanorpc/session");
const RESUME_PATH = encoder.encode("/_nanorpc/resume");
const GOODBYE_PATH = encoder.encode("/_nanorpc/goodbye");
/** Longest wait for the goodbye's answer when the client closes. */
const GOODBYE_WAIT = 1000;
const EMPTY = new Uint8Array(0);
/** Subscriptions to end on the server after a resume, at most. */
const MAX_ORPHANS = 1024;
/** Longest wait for a resume's answer when neither limit applies. */
const RESUME_WAIT = 10_000;
/**
 * Connections in a row a token is offered on that end before its answer;
 * then it is given up. A resume that brings down every connection it goes
 * out on (a node or a proxy that fails on it) must not keep the client
 * from ever working again.
 */
const MAX_UNANSWERED = 3;
/**
 * ...and over at least this long (a server's default `resumeGrace`): a
 * drop where a proxy accepts and hangs up while its backend is away makes
 * several quick ones, and the session waits for the client meanwhile.
 */
const GIVE_UP_AFTER = 30_000;

/** What a resume answered: updates lost while away, and the next token. */
export interface ResumeAnswer {
  lost: number;
  token: Uint8Array;
}

/**
 * Reads `message ResumeAnswer { uint64 lost = 1; bytes token = 2; }`,
 * skipping fields it does not know.
 *
 * @throws {Error} When the bytes are not such a message.
 */
export function decodeResumeAnswer(data: Uint8Array): ResumeAnswer {
  let i = 0;
  const varint = (): number => {
    let value = 0;
    // At most 10 bytes, as protobuf says: longer garbage would make NaN.
    for (let n = 0, scale = 1; n < 10 && i < data.length; n++) {
      const b = data[i++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error("Resume answer: truncated or overlong varint");
  };
  const answer: ResumeAnswer = { lost: 0, token: EMPTY };
  while (i < data.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) {
      const value = varint();
      if (tag >>> 3 === 1) answer.lost = value;
    } else if (wire === 2) {
      const len = varint();
      if (i + len > data.length) throw new Error("Resume answer: truncated");
      if (tag >>> 3 === 2) answer.token = data.slice(i, i + len);
      i += len;
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
      if (i > data.length) throw new Error("Resume answer: truncated");
    } else {
      throw new Error(`Resume answer: wire type ${wire}`);
    }
  }
  return answer;
}

function reservedCall(path: Uint8Array, data: Uint8Array): Call<RpcResponse> {
  return new Call<RpcResponse>(
    {
      type: RequestType.REQUEST,
      pathKind: PATH_STRING,
      pathHash: 0,
      path,
      data,
    },
    new TextDecoder().decode(path),
  );
}

/**
 * How long a resume's answer is awaited: `timeout`, or when that is none,
 * `connectTimeout` (resuming is part of connecting), or {@link RESUME_WAIT}.
 * Never unbounded: a server that does not answer would keep the client
 * `connecting` for good.
 */
function resumeWait({ timeout, connectTimeout }: Settings): number {
  for (const ms of [timeout, connectTimeout]) {
    if (ms > 0 && ms < Infinity) return ms;
  }
  return RESUME_WAIT;
}

/** Resume state of one client. */
export class ClientResume {
  readonly #enabled: boolean;
  readonly #timeout: number;
  readonly #resumeWait: number;
  readonly #beforeReconnect: ((signal: AbortSignal) => unknown) | undefined;
  #token: Uint8Array | undefined;
  /** Connections in a row that ended before the resume's answer. */
  #unanswered = 0;
  /** When the first of those ended (`performance.now()`). */
  #unansweredSince = 0;
  /** A token was asked for on this connection and not answered yet. */
  #asking = false;
  /** The token is being offered; the answer decides if orphans are sent. */
  #resuming = false;
  #orphans: OutFrame[] = [];
  /** Updates the server dropped while this client was away, in total. */
  lost = 0;

  constructor(settings: Settings) {
    this.#enabled = settings.resume;
    this.#timeout = settings.timeout;
    this.#resumeWait = resumeWait(settings);
    this.#beforeReconnect = settings.beforeReconnect;
  }

  /** The client's resume state, if it resumes or has a reconnect hook. */
  static from(settings: Settings): ClientResume | undefined {
    return settings.resume || settings.beforeReconnect
      ? new ClientResume(settings)
      : undefined;
  }

  /**
   * Before dialling again (not the first time): the credentials hook. Its
   * wait ends when `signal` aborts (the client closes), whatever the hook
   * does with the signal it is given.
   */
  async beforeDial(connections: number, signal: AbortSignal): Promise<void> {
    const hook = this.#beforeReconnect;
    if (connections === 0 || hook === undefined) return;
    signal.throwIfAborted();
    const aborted = Promise.withResolvers<never>();
    const abort = () => aborted.reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    try {
      await Promise.race([hook(signal), aborted.promise]);
    } finally {
      signal.removeEventListener("abort", abort);
    }
  }

  /**
   * First thing on a new connection: offers the token, if there is one.
   * `send` writes a call on the connection before anything queued. Resolves
   * how many updates were lost when the session resumed, or undefined when
   * it did not (no token, NOT_FOUND, no answer in time, or any failure:
   * then the caller subscribes again).
   */
  async open(
    send: (call: Call<RpcResponse>) => void,
  ): Promise<number | undefined> {
    const token = this.#token;
    this.#token = undefined;
    this.#asking = false;
    if (!token) {
      this.#orphans = [];
      return undefined;
    }
    const call = reservedCall(RESUME_PATH, token);
    const ms = this.#resumeWait;
    call.limit(ms, () =>
      new TimeoutError(
        `No answer to /_nanorpc/resume within ${ms} ms; a new session starts`,
      ));
    send(call);
    this.#resuming = true;
    try {
      const answer = decodeResumeAnswer((await call.promise).data);
      // A resumed session always comes with its next token.
      if (answer.token.length === 0) throw new Error("Resume answer: no token");
      this.#token = answer.token;
      this.#unanswered = 0;
      this.lost += answer.lost;
      return answer.lost;
    } catch (error) {
      // The connection ended first: the token may still be good on the
      // next one, but not after MAX_UNANSWERED in a row over GIVE_UP_AFTER.
      // Garbage came (a malformed frame): offering it again would get the
      // same, on every connection from now on. No answer in time: as good
      // as refused.
      const garbled = error instanceof ProtocolError;
      const unanswered = error instanceof ConnectionLostError && !garbled;
      const now = performance.now();
      if (unanswered && this.#unanswered++ === 0) this.#unansweredSince = now;
      const hopeless = this.#unanswered >= MAX_UNANSWERED &&
        now - this.#unansweredSince >= GIVE_UP_AFTER;
      if (unanswered && !hopeless) {
        this.#token = token;
      } else {
        this.#unanswered = 0;
        this.#orphans = [];
      }
      return undefined;
    } finally {
      this.#resuming = false;
    }
  }

  /**
   * The connection is open. After a resume, ends on the server the
   * subscriptions that ended here while away; otherwise asks for a token
   * through `start`.
   */
  opened(
    resumed: boolean,
    connection: Connection,
    start: (call: Call<RpcResponse>) => Promise<RpcResponse>,
  ): void {
    if (!this.#enabled) return;
    if (resumed) {
      for (const frame of this.#orphans.splice(0)) connection.send(frame);
      if (this.#token) return;
    }
    this.#asking = true;
    start(reservedCall(SESSION_PATH, EMPTY)).then(
      (response) => {
        this.#asking = false;
        // An empty answer (a server that answers every path OK) is no token.
        this.#token = response.data.length > 0 ? response.data : undefined;
      },
      // Not offered (NOT_FOUND), or the connection went: no token.
      () => this.#asking = false,
    );
  }

  /**
   * The client closes on purpose: the goodbye to send first, when the
   * server may hold a token for this session (one held, or asked for);
   * it ends the session there at once instead of leaving it to linger.
   * `open`: the connection is open; until then, only a resume being
   * answered may take a session back on it.
   */
  goodbye(open: boolean): Call<RpcResponse> | undefined {
    const held = open ? this.#token || this.#asking : this.#resuming;
    if (!held) return undefined;
    this.#token = undefined;
    this.#asking = false;
    const call = reservedCall(GOODBYE_PATH, EMPTY);
    const ms = this.#timeout > 0
      ? Math.min(this.#timeout, GOODBYE_WAIT)
      : GOODBYE_WAIT;
    call.limit(
      ms,
      () => new TimeoutError(`No answer to /_nanorpc/goodbye within ${ms} ms`),
    );
    return call;
  }

  /**
   * A subscription ended while disconnected: the server may still hold it
   * in the session, so it is ended there after a resume (its answer, with
   * an id nothing waits for, is ignored).
   */
  orphan(subscription: SubscriptionImpl<unknown>): void {
    const resumable = this.#token !== undefined || this.#resuming;
    if (!resumable || this.#orphans.length >= MAX_ORPHANS) return;
    const frame = subscription.unsubscribeFrame();
    if (frame) this.#orphans.push(frame);
  }
}
