// The server's ForwardHost: what its Forwarder calls when messages from
// other nodes arrive, split between the home side (this server's sessions)
// and the serving side (calls and subscriptions of other nodes' sessions).

import type { ServerCore } from "./_core.ts";
import { ForwardHome } from "./_forward_home.ts";
import { ForwardServe } from "./_forward_serve.ts";
import type {
  ForwardedAnswer,
  ForwardedCall,
  Forwarder,
  ForwardHost,
  ServedRoutes,
  SessionOp,
} from "./forward.ts";
import type { Logger } from "./logger.ts";

export class ForwardNode implements ForwardHost {
  readonly home: ForwardHome;
  readonly serving: ForwardServe;
  readonly forwarder: Forwarder;
  #core: ServerCore;
  #attached = false;

  constructor(core: ServerCore, forwarder: Forwarder) {
    this.#core = core;
    this.forwarder = forwarder;
    this.home = new ForwardHome(core, forwarder);
    this.serving = new ForwardServe(core, forwarder);
  }

  get nodeId(): string {
    return this.#core.nodeId;
  }

  get logger(): Logger {
    return this.#core.logger;
  }

  routes(): ServedRoutes {
    const requests: number[] = [];
    const topics: number[] = [];
    const timeouts: number[] = [];
    for (const route of this.#core.router.routes()) {
      // The server's own services stay local to each node.
      if (route.path.startsWith("/_nanorpc/")) continue;
      if (route.handler) requests.push(route.hash);
      if (route.topic) topics.push(route.hash);
      const limit = route.options.timeout;
      if (limit !== undefined) timeouts.push(route.hash, limit);
    }
    return { requests, topics, timeouts };
  }

  serve(call: ForwardedCall): Promise<ForwardedAnswer> {
    return this.serving.serve(call);
  }

  apply(sessionId: number, ops: readonly SessionOp[]): void {
    this.home.apply(sessionId, ops);
  }

  update(from: string, key: number, data: Uint8Array): boolean {
    return this.home.update(from, key, data);
  }

  release(node: string, keys?: readonly number[]): void {
    this.serving.release(node, keys);
  }

  push(from: string, sessionId: number, path: string, data: Uint8Array): void {
    this.serving.push(from, sessionId, path, data);
  }

  resubscribe(node?: string): void {
    this.home.resubscribe(node);
  }

  held(): Map<string, number[]> {
    return this.serving.held();
  }

  unheld(from: string, keys: readonly number[]): number[] {
    return this.home.unheld(from, keys);
  }

  /** Starts serving this server's routes to other nodes. */
  async attach(): Promise<void> {
    if (this.#attached) return;
    this.#attached = true;
    await this.forwarder.attach(this);
  }

  /** A handler or topic was registered. */
  routesChanged(): void {
    if (this.#attached) this.forwarder.routesChanged();
  }

  /** Stops serving other nodes and lets go of what it held for them. */
  async detach(): Promise<void> {
    if (!this.#attached) return;
    this.#attached = false;
    try {
      await this.forwarder.detach();
    } finally {
      this.serving.close();
    }
  }
}
