/**
 * The serving side of a {@link NatsForwarder}: one queue subscription per
 * path the server serves (and the node's own subject for calls routed by
 * key), each call decoded, served by the host and answered, with at most
 * `maxServing` at once.
 *
 * @module
 */

import type { Msg, Subscription } from "@nats-io/transport-node";
import type {
  ForwardedAnswer,
  ForwardedCall,
  ForwardHost,
} from "../server/forward.ts";
import type { ForwardLink } from "./_forward_link.ts";
import { within } from "./_forward_link.ts";
import { STATUS } from "./_forward_subjects.ts";
import { errorOf } from "./_nats_link.ts";
import { decodeCall, encodeAnswer } from "./_rpc_codec.ts";
// deno-lint-ignore no-unused-vars
import type { NatsForwarder } from "./nats_forwarder.ts";

/** Serves the calls other nodes forward to this one. */
export class CallServer {
  serving = 0;
  served = 0;
  #link: ForwardLink;
  #host: ForwardHost;
  #max: number;
  #subs = new Map<string, Subscription>();
  #direct: Subscription;
  #idle?: PromiseWithResolvers<void>;

  /**
   * Subscribes to this node's call subject; {@link sync} adds the paths.
   *
   * @param link The forwarder's link.
   * @param host The server.
   * @param max Most calls served at once.
   */
  constructor(link: ForwardLink, host: ForwardHost, max: number) {
    this.#link = link;
    this.#host = host;
    this.#max = max;
    this.#direct = link.nc.subscribe(link.subjects.call(host.nodeId), {
      callback: (err, msg) => {
        if (!err) this.#serve(msg);
      },
    });
  }

  /** Subscribes to the queue group of every path served; drops the rest. */
  sync(): void {
    const { requests, topics } = this.#host.routes();
    const subjects = this.#link.subjects;
    const wanted = new Set([
      ...requests.map((h) => subjects.route("request", h)),
      ...topics.map((h) => subjects.route("subscribe", h)),
    ]);
    for (const [subject, sub] of this.#subs) {
      if (wanted.has(subject)) continue;
      sub.unsubscribe();
      this.#subs.delete(subject);
    }
    for (const subject of wanted) {
      if (this.#subs.has(subject)) continue;
      this.#subs.set(
        subject,
        this.#link.nc.subscribe(subject, {
          queue: subjects.queue,
          callback: (err, msg) => {
            if (!err) this.#serve(msg);
          },
        }),
      );
    }
  }

  /**
   * Takes no more calls and waits (for at most the link's `closeTimeout`)
   * for those being served to be answered.
   */
  async stop(): Promise<void> {
    for (const sub of this.#subs.values()) sub.unsubscribe();
    this.#subs.clear();
    this.#direct.unsubscribe();
    if (this.serving === 0) return;
    this.#idle ??= Promise.withResolvers();
    await within(this.#idle.promise, this.#link.closeTimeout);
  }

  #serve(msg: Msg): void {
    if (!msg.reply) return;
    const link = this.#link;
    const reply = (answer: ForwardedAnswer) => this.#reply(msg, answer);
    if (this.serving >= this.#max) {
      link.drops.count("busy");
      return reply(
        link.fail(
          STATUS.INTERNAL_ERROR,
          `Node ${this.#host.nodeId} is serving ${this.#max} forwarded calls already; retry later`,
        ),
      );
    }
    let call: ForwardedCall;
    try {
      call = decodeCall(msg.data);
    } catch (err) {
      link.drops.count("malformed");
      return reply(link.fail(STATUS.INTERNAL_ERROR, errorOf(err).message));
    }
    this.serving++;
    this.#host.serve(call).then(
      reply,
      (err) => reply(link.fail(STATUS.INTERNAL_ERROR, errorOf(err).message)),
    ).finally(() => {
      this.served++;
      if (--this.serving === 0 && this.#idle) {
        this.#idle.resolve();
        this.#idle = undefined;
      }
    });
  }

  #reply(msg: Msg, answer: ForwardedAnswer): void {
    const link = this.#link;
    let bytes = encodeAnswer(answer, link.skipped);
    if (link.tooLarge(bytes.length)) {
      link.drops.count("tooLarge");
      bytes = encodeAnswer(
        link.fail(
          STATUS.INTERNAL_ERROR,
          `The answer (${bytes.length} bytes) is over the NATS server's max_payload`,
        ),
        link.skipped,
      );
    }
    if (link.closed) return link.drops.count("closed");
    if (link.state !== "connected") return link.drops.count("disconnected");
    try {
      msg.respond(bytes);
    } catch {
      link.drops.count("disconnected");
    }
  }
}
