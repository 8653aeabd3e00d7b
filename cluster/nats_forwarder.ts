/**
 * A {@link Forwarder} over NATS: the nodes of a cluster serve each other
 * the paths they do not all serve (nano's remote handlers).
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type {
  ForwardCallOptions,
  ForwardedAnswer,
  ForwardedCall,
  Forwarder,
  ForwardHost,
  SessionOp,
} from "../server/forward.ts";
import { CallServer } from "./_call_server.ts";
import { ForwardLink, LinkDroppedError } from "./_forward_link.ts";
import { routeLabel, STATUS } from "./_forward_subjects.ts";
import {
  type Backoff,
  dialNats,
  errorOf,
  isNoResponders,
  type LinkSettings,
  positive,
  watchStatus,
} from "./_nats_link.ts";
import { NodeMesh } from "./_node_mesh.ts";
import {
  decodeAnswer,
  encodeCall,
  encodeOps,
  encodePush,
} from "./_rpc_codec.ts";
import type { NatsBrokerState } from "./nats_broker_options.ts";
import type {
  NatsForwarderOptions,
  NatsForwarderStats,
} from "./nats_forwarder_options.ts";

/**
 * Forwards the REQUESTs and SUBSCRIBEs a server does not serve to a node
 * of the cluster that does, over NATS request/reply with one queue group
 * per path, and serves its own paths to the other nodes. Give it to one
 * server as `forward`, with a `NatsBroker` as `broker` so that topics,
 * groups and uids are shared too.
 *
 * @example
 * ```ts ignore
 * import { Server } from "@nanorpc/nanorpc/server";
 * import { NatsBroker, NatsForwarder } from "@nanorpc/nanorpc/cluster";
 *
 * const servers = "nats://127.0.0.1:4222";
 * await using broker = await NatsBroker.connect({ servers });
 * await using forward = await NatsForwarder.connect({ servers });
 * const server = new Server({ broker, forward });
 * server.handle("/echo", (ctx) => ctx.data); // other nodes may call it
 * await server.listen({ port: 7411 }); // paths it lacks go to other nodes
 * ```
 */
export class NatsForwarder implements Forwarder {
  #link: ForwardLink;
  #backoff: Backoff;
  #routeKey?: (call: ForwardedCall) => string | undefined;
  #interval: number;
  #nodeTimeout: number;
  #auditInterval: number;
  #maxInflight: number;
  #maxServing: number;
  #host?: ForwardHost;
  #server?: CallServer;
  #mesh?: NodeMesh;
  #closing?: Promise<void>;
  #detaching?: Promise<void>;
  #statusLoop: Promise<void>;
  #n = { forwarded: 0, notFound: 0, timedOut: 0, inflight: 0, reconnects: 0 };
  #past = {
    served: 0,
    updatesSent: 0,
    updatesReceived: 0,
    heldLists: 0,
    staleReleased: 0,
  };

  /**
   * Connects to NATS and returns the forwarder.
   *
   * @param options Servers, routing, liveness, bounds and logging.
   * @returns The connected forwarder; give it to one server as `forward`.
   * @throws {Error} When no NATS server answers; start one or fix the URL.
   * @throws {RangeError|TypeError} When an option is invalid.
   */
  static async connect(options: NatsForwarderOptions): Promise<NatsForwarder> {
    const { nc, settings, backoff } = await dialNats(options, {
      noAsyncTraces: true,
    });
    return new NatsForwarder(nc, options, settings, backoff);
  }

  private constructor(
    nc: NatsConnection,
    options: NatsForwarderOptions,
    settings: LinkSettings,
    backoff: Backoff,
  ) {
    this.#link = new ForwardLink(
      nc,
      settings.prefix,
      `NatsForwarder ${options.name ?? settings.prefix}`,
      settings.logger,
      settings,
    );
    this.#backoff = backoff;
    this.#routeKey = options.routeKey;
    this.#interval = positive(
      "heartbeatInterval",
      options.heartbeatInterval,
      1000,
    );
    this.#nodeTimeout = positive("nodeTimeout", options.nodeTimeout, 10_000);
    const audit = options.auditInterval ?? 10_000;
    if (!(audit >= 0) || !Number.isFinite(audit)) {
      throw new RangeError(
        `NatsForwarder: auditInterval must be 0 (never) or a positive number of ms, not ${audit}`,
      );
    }
    this.#auditInterval = audit;
    this.#maxInflight = positive("maxInflight", options.maxInflight, 10_000);
    this.#maxServing = positive("maxServing", options.maxServing, 10_000);
    this.#statusLoop = this.#watch();
  }

  /** The link's state. */
  get state(): NatsBrokerState {
    return this.#link.state;
  }

  /** Messages dropped since the forwarder was created. */
  get dropped(): number {
    return this.#link.drops.total;
  }

  /** A snapshot of the forwarder's counters. */
  get stats(): NatsForwarderStats {
    const server = this.#server;
    const mesh = this.#mesh;
    return {
      state: this.#link.state,
      nodes: mesh?.presence.size ?? 0,
      ...this.#n,
      served: this.#past.served + (server?.served ?? 0),
      serving: server?.serving ?? 0,
      updatesSent: this.#past.updatesSent + (mesh?.updatesSent ?? 0),
      updatesReceived: this.#past.updatesReceived +
        (mesh?.updatesReceived ?? 0),
      heldLists: this.#past.heldLists + (mesh?.heldLists ?? 0),
      staleReleased: this.#past.staleReleased + (mesh?.staleReleased ?? 0),
      dropped: this.#link.drops.total,
      droppedBy: this.#link.drops.snapshot(),
    };
  }

  /** Ids of the other nodes heard from, for health checks. */
  nodes(): string[] {
    return this.#mesh?.presence.nodes() ?? [];
  }

  /**
   * Starts serving `host`'s paths to the other nodes; the server calls it
   * before its first listener accepts.
   *
   * @throws {Error} When it already serves another server, or is closed.
   */
  async attach(host: ForwardHost): Promise<void> {
    const link = this.#link;
    if (link.closed) throw new Error(`${link.label} is closed`);
    await this.#detaching;
    if (this.#host || this.#mesh) {
      throw new Error(
        `${link.label} already serves a server: make one forwarder per server`,
      );
    }
    this.#host = host;
    this.#server = new CallServer(link, host, this.#maxServing);
    this.#server.sync();
    this.#mesh = new NodeMesh(link, host, {
      interval: this.#interval,
      timeout: this.#nodeTimeout,
      auditInterval: this.#auditInterval,
    });
    this.#mesh.beat();
    await link.flush();
  }

  /** Serves the routes registered after {@link attach} too. */
  routesChanged(): void {
    this.#server?.sync();
    this.#mesh?.beat();
  }

  /**
   * Sends `call` to a node serving its path and resolves with its answer:
   * NOT_FOUND when no node serves it; INTERNAL_ERROR when the link is
   * down, too many calls wait, or no answer comes within
   * `options.timeout`. Never rejects. `call.data` is read before this
   * returns.
   */
  async call(
    call: ForwardedCall,
    options: ForwardCallOptions,
  ): Promise<ForwardedAnswer> {
    const link = this.#link;
    const what = routeLabel(call);
    const fail = (why: string) =>
      link.fail(STATUS.INTERNAL_ERROR, `Cannot forward ${what}: ${why}`);
    if (link.closed || !this.#host) {
      return fail("this node has left the cluster");
    }
    if (link.state !== "connected") {
      link.drops.count("disconnected");
      return fail(
        "NATS is unreachable; local paths still work, retry this one when the link is back",
      );
    }
    if (this.#n.inflight >= this.#maxInflight) {
      link.drops.count("busy");
      return fail(`${this.#maxInflight} forwarded calls wait already; retry`);
    }
    const bytes = encodeCall(call, link.skipped);
    if (link.tooLarge(bytes.length)) {
      link.drops.count("tooLarge");
      return fail(`${bytes.length} bytes is over NATS's max_payload`);
    }
    let key: string | undefined;
    try {
      key = this.#routeKey?.(call);
    } catch (err) {
      // The application's bug: the call fails as a throwing handler's does.
      const ref = crypto.randomUUID().slice(0, 8);
      link.logger.error(
        `${link.label}: routeKey threw for ${what} [${ref}]:`,
        err,
      );
      return fail(
        `routeKey failed (reference ${ref}); the server log has the details`,
      );
    }
    let target = key === undefined
      ? undefined
      : this.#mesh?.presence.pick(call.kind, call.pathHash, key);
    // The route's own time limit, when the nodes serving it set one.
    const timeout = this.#mesh?.presence.timeout(
      call.kind,
      call.pathHash,
      options.timeout,
    ) ?? options.timeout;
    this.#n.forwarded++;
    this.#n.inflight++;
    try {
      for (;;) {
        const subject = target
          ? link.subjects.call(target)
          : link.subjects.route(call.kind, call.pathHash);
        try {
          const msg = await link.untilDropped(
            link.nc.request(subject, bytes, { timeout }),
          );
          return decodeAnswer(msg.data);
        } catch (err) {
          if (!isNoResponders(err)) return this.#failed(what, err, timeout);
          if (target) {
            // The keyed node is gone: drop it (what it held is made again
            // elsewhere) and load-balance.
            this.#mesh?.lost(target, "answered no more calls");
            target = undefined;
            continue;
          }
          this.#n.notFound++;
          const kind = call.kind === "request" ? "handler" : "topic";
          return link.fail(
            STATUS.NOT_FOUND,
            `No ${kind} for ${what} on any node of the cluster`,
          );
        }
      }
    } finally {
      this.#n.inflight--;
    }
  }

  /** Sends session ops to the session's home node. */
  ops(node: string, sessionId: number, ops: readonly SessionOp[]): void {
    const link = this.#link;
    link.send(
      link.subjects.node(node),
      encodeOps(sessionId, ops, link.skipped),
    );
  }

  /** Whether answers to `node` may carry broadcasts (every node reads them). */
  carriesBroadcasts(node: string): boolean {
    return this.#mesh?.presence.readsBroadcasts(node) ?? false;
  }

  /** Queues an update for the subscription `key` of a session of `node`. */
  update(node: string, key: number, data: Uint8Array): void {
    if (this.#mesh) this.#mesh.batcher.add(node, key, data);
    else this.#link.drops.count("closed");
  }

  /** Tells `node` to let go of the subscriptions `keys` it holds. */
  release(node: string, keys: readonly number[]): void {
    this.#mesh?.release(node, keys);
  }

  /** Sends a push to the node holding subscriptions of a session. */
  push(node: string, sessionId: number, path: string, data: Uint8Array): void {
    const host = this.#host;
    if (!host) return;
    const link = this.#link;
    link.send(
      link.subjects.node(node),
      encodePush(host.nodeId, sessionId, path, data),
    );
  }

  /**
   * Stops serving the server: no new calls, in-flight ones answered (for
   * at most `closeTimeout` ms), the other nodes told this one leaves.
   */
  detach(): Promise<void> {
    const [server, mesh] = [this.#server, this.#mesh];
    if (!this.#host || !server || !mesh) {
      return this.#detaching ?? Promise.resolve(); // concurrent calls wait
    }
    this.#host = undefined; // before the first await
    return this.#detaching = (async () => {
      await server.stop();
      mesh.stop();
      this.#past.served += server.served;
      this.#past.updatesSent += mesh.updatesSent;
      this.#past.updatesReceived += mesh.updatesReceived;
      this.#past.heldLists += mesh.heldLists;
      this.#past.staleReleased += mesh.staleReleased;
      this.#server = this.#mesh = undefined;
      await this.#link.flush();
    })();
  }

  /** Detaches, then closes the NATS link. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.detach();
      this.#link.close();
      const nc = this.#link.nc;
      if (!nc.isClosed()) await nc.close().catch(() => {});
      await this.#statusLoop;
      this.#link.state = "closed";
    })();
    return this.#closing;
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #failed(what: string, err: unknown, timeout: number): ForwardedAnswer {
    const e = errorOf(err);
    if (e instanceof LinkDroppedError) {
      this.#link.drops.count("disconnected");
      return this.#link.fail(
        STATUS.INTERNAL_ERROR,
        `Lost NATS while waiting for the answer for ${what}: it may have run; retry if it is idempotent`,
      );
    }
    if (e.name === "TimeoutError") {
      this.#n.timedOut++;
      return this.#link.fail(
        STATUS.INTERNAL_ERROR,
        `No answer for ${what} from the cluster within ${timeout} ms: the node serving it may have stopped; retry if it is idempotent`,
      );
    }
    return this.#link.fail(
      STATUS.INTERNAL_ERROR,
      `Forwarding ${what} failed: ${e.message}`,
    );
  }

  async #watch(): Promise<void> {
    const link = this.#link;
    await watchStatus(link.nc, {
      down: (server) => {
        link.lost();
        link.logger.warn(
          `${link.label}: lost NATS at ${server}; local paths still work, forwarded ones fail until it is back`,
        );
      },
      attempt: () => {},
      up: (server) => {
        link.state = "connected";
        this.#backoff.reset();
        this.#n.reconnects++;
        link.logger.info(`${link.label}: NATS is back at ${server}`);
        this.#mesh?.linkUp();
        // What other nodes held for our sessions may be gone with them.
        this.#host?.resubscribe();
      },
      error: (error) =>
        link.logger.error(`${link.label}: NATS error: ${error.message}`),
      note: (line) => link.logger.warn(`${link.label}: ${line}`),
    });
    if (!link.closed) {
      link.state = "closed";
      link.logger.error(
        `${link.label}: the NATS connection closed for good; restart this node`,
      );
    }
  }
}
