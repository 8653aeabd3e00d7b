/**
 * The NATS connection of a {@link NatsForwarder} as its parts use it:
 * subjects, the link's state, and sending with every drop counted.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { ForwardedAnswer } from "../server/forward.ts";
import type { Logger } from "../server/logger.ts";
import { DropCounter } from "./_drops.ts";
import { FORWARD_DROP_ADVICE, ForwardSubjects } from "./_forward_subjects.ts";
import { PublishWindow } from "./_nats_link.ts";
import type { SkippedValue } from "./_rpc_codec.ts";
import type { NatsBrokerState } from "./nats_broker_options.ts";
import type { ForwardDropReason } from "./nats_forwarder_options.ts";
// deno-lint-ignore no-unused-vars
import type { NatsForwarder } from "./nats_forwarder.ts";

const EMPTY = new Uint8Array(0);

/** One forwarder's link to NATS. */
export class ForwardLink {
  readonly nc: NatsConnection;
  readonly subjects: ForwardSubjects;
  readonly logger: Logger;
  readonly label: string;
  readonly drops: DropCounter<ForwardDropReason>;
  readonly closeTimeout: number;
  state: NatsBrokerState = "connected";
  closed = false;
  #window: PublishWindow;
  /** Rejects the wait of each call whose answer is awaited. */
  #awaiting = new Set<(err: Error) => void>();

  /**
   * @param nc The connection.
   * @param prefix The subject prefix.
   * @param label Who forwards, for log lines.
   * @param logger Where log lines go.
   * @param limits Unconfirmed bytes allowed, and how long closing waits.
   */
  constructor(
    nc: NatsConnection,
    prefix: string,
    label: string,
    logger: Logger,
    limits: { maxUnflushedBytes: number; closeTimeout: number },
  ) {
    this.nc = nc;
    this.subjects = new ForwardSubjects(prefix);
    this.label = label;
    this.logger = logger;
    this.closeTimeout = limits.closeTimeout;
    this.#window = new PublishWindow(nc, limits.maxUnflushedBytes);
    this.drops = new DropCounter(label, FORWARD_DROP_ADVICE, logger);
  }

  /**
   * Awaits `answer`, or rejects with a {@link LinkDroppedError} as soon as
   * the link drops: an answer still awaited then is lost with the
   * connection, so its caller need not wait for its time limit.
   */
  async untilDropped<T>(answer: Promise<T>): Promise<T> {
    const dropped = Promise.withResolvers<never>();
    this.#awaiting.add(dropped.reject);
    try {
      return await Promise.race([answer, dropped.promise]);
    } finally {
      this.#awaiting.delete(dropped.reject);
    }
  }

  /** The link dropped: every answer awaited is given up on. */
  lost(): void {
    this.state = "reconnecting";
    const awaiting = [...this.#awaiting];
    this.#awaiting.clear();
    for (const reject of awaiting) reject(new LinkDroppedError());
  }

  /** Whether a message of `bytes` is over the server's max_payload. */
  tooLarge(bytes: number): boolean {
    return bytes > (this.nc.info?.max_payload ?? Infinity);
  }

  /** Publishes, or drops and counts `n` messages; returns whether sent. */
  send(subject: string, bytes: Uint8Array, n = 1): boolean {
    let reason: ForwardDropReason;
    if (this.closed) reason = "closed";
    else if (this.state !== "connected") reason = "disconnected";
    else if (this.tooLarge(bytes.length)) reason = "tooLarge";
    else if (!this.#window.fits(bytes.length)) reason = "backpressure";
    else {
      try {
        this.nc.publish(subject, bytes);
        this.#window.sent(bytes.length);
        return true;
      } catch {
        reason = this.nc.isClosed() ? "closed" : "disconnected";
      }
    }
    this.drops.count(reason, n);
    return false;
  }

  /** Logs an attribute that cannot travel. */
  skipped: SkippedValue = (key, err) =>
    this.logger.warn(
      `${this.label}: session attribute ${
        JSON.stringify(key)
      } cannot travel to other nodes (${err.message}); store plain data in attributes`,
    );

  /** An answer made here, not by a serving node. */
  fail(status: number, message: string): ForwardedAnswer {
    return { status, message, data: EMPTY, ops: [], node: "" };
  }

  /** Waits for NATS to confirm what was sent, at most `closeTimeout`. */
  async flush(): Promise<void> {
    if (this.state !== "connected" || this.nc.isClosed()) return;
    await within(this.nc.flush().catch(() => {}), this.closeTimeout);
  }

  /** Stops sending. */
  close(): void {
    this.closed = true;
    this.#window.close();
  }
}

/** The link dropped while an answer was awaited; see {@link ForwardLink}. */
export class LinkDroppedError extends Error {
  /** Says that NATS dropped. */
  constructor() {
    super("the link to NATS dropped before the answer came");
    this.name = "LinkDroppedError";
  }
}

/** Resolves when `promise` settles or after `ms`, whichever is first. */
export async function within(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}
