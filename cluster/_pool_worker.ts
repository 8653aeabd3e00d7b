/**
 * The entry of every worker of a {@link Workers} pool: makes the shared
 * broker (and forwarder), runs the pool's module, answers the pool's
 * requests for counters, drains its server and stops gracefully when
 * asked.
 *
 * @module
 */

import type { Broker } from "../server/broker.ts";
import type { Forwarder } from "../server/forward.ts";
import type { Listener, ListenOptions } from "../server/listener.ts";
import type { Server } from "../server/server.ts";
import { BroadcastChannelBroker } from "./broadcast_channel_broker.ts";
import { NatsBroker } from "./nats_broker.ts";
import { NatsForwarder } from "./nats_forwarder.ts";
// deno-lint-ignore no-unused-vars
import type { Workers } from "./workers.ts";
import type { WorkerMain } from "./workers_options.ts";
import type { FromWorker, ToWorker } from "./_pool_messages.ts";

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
  close(): void;
};

// A module that ends its worker (Deno.exit, close()) raises no error in
// the pool, which would wait for the worker's answers forever: say so.
addEventListener("unload", () => self.postMessage({ type: "exited" }));
const close = self.close;
self.close = () => {
  self.postMessage({ type: "exited" });
  close.call(self);
};

let server: Server | undefined;
let links: { close(): Promise<void> }[] = [];
const stopping = Promise.withResolvers<void>();
/** The pool's answers to {@link poolMetrics}, by request id. */
const metricsAsked = new Map<number, PromiseWithResolvers<string>>();
let nextMetrics = 1;
/** The pool's drains running here, by request id. */
const drains = new Map<number, AbortController>();

/** Longest wait for the pool's metrics: past the pool's wait for each. */
const POOL_METRICS_TIMEOUT = 10_000;

/** Asks the pool for every worker's metrics, merged (worker 0's /metrics). */
function poolMetrics(): Promise<string> {
  const id = nextMetrics++;
  const answer = Promise.withResolvers<string>();
  metricsAsked.set(id, answer);
  self.postMessage({ type: "pool-metrics", id });
  const timer = setTimeout(() => {
    metricsAsked.delete(id);
    answer.reject(
      new Error(`the pool did not answer within ${POOL_METRICS_TIMEOUT} ms`),
    );
  }, POOL_METRICS_TIMEOUT);
  return answer.promise.finally(() => clearTimeout(timer));
}

function listener(index: number, ports: number[], bound: number[]) {
  return async (
    s: Server,
    target: ListenOptions,
  ): Promise<Listener | undefined> => {
    if ("path" in target || "http" in target) {
      return index === 0 ? await s.listen(target) : undefined;
    }
    const k = bound.length;
    const port = index === 0 ? target.port : ports[k] ?? target.port;
    const l = await s.listen({ ...target, port, reusePort: true });
    bound.push((l.addr as Deno.NetAddr).port);
    return l;
  };
}

async function start(m: Extract<ToWorker, { type: "start" }>): Promise<void> {
  let broker: Broker;
  let forward: Forwarder | undefined;
  if (m.nats) {
    const name = `${m.nats.name ?? "nanorpc"}-${m.index}`;
    const nb = await NatsBroker.connect({ ...m.nats, name });
    links.push(nb);
    const nf = await NatsForwarder.connect({ ...m.nats, name });
    links.unshift(nf); // closed before the broker
    broker = nb;
    forward = nf;
  } else {
    const bc = new BroadcastChannelBroker({ name: m.channel });
    links.push(bc);
    broker = bc;
  }
  const bound: number[] = [];
  const mod = await import(m.module) as { default?: WorkerMain };
  if (typeof mod.default !== "function") {
    throw new Error(`${m.module} has no default export (ctx) => Server`);
  }
  server = await mod.default({
    index: m.index,
    count: m.count,
    data: m.data,
    options: { broker, forward },
    listen: listener(m.index, m.ports, bound),
    stopping: stopping.promise,
    metrics: poolMetrics,
  });
  self.postMessage({
    type: "ready",
    urls: server.listeners.map((l) => l.url),
    ports: bound,
  });
}

/** Drains the server as the pool asks; answers with its counters then. */
function drain(m: Extract<ToWorker, { type: "drain" }>): void {
  const abort = new AbortController();
  if (m.aborted) abort.abort();
  drains.set(m.id, abort);
  server!.drain({ ...m.options, signal: abort.signal }).then(
    () =>
      self.postMessage({ type: "drained", id: m.id, stats: server!.stats() }),
    (err) =>
      self.postMessage({
        type: "drained",
        id: m.id,
        error: err instanceof Error ? err.message : String(err),
      }),
  ).finally(() => drains.delete(m.id));
}

async function stop(): Promise<void> {
  stopping.resolve();
  await server?.shutdown();
  const stats = server!.stats();
  for (const link of links) await link.close();
  links = [];
  self.postMessage({ type: "stopped", stats });
}

self.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "start":
      start(m).catch((err) =>
        self.postMessage({
          type: "failed",
          message: err instanceof Error ? err.message : String(err),
        })
      );
      return;
    case "stats":
      self.postMessage({ type: "stats", id: m.id, stats: server!.stats() });
      return;
    case "metrics":
      self.postMessage({ type: "metrics", id: m.id, text: server!.metrics() });
      return;
    case "pool-metrics": {
      const asked = metricsAsked.get(m.id);
      metricsAsked.delete(m.id);
      if (m.error === undefined) asked?.resolve(m.text);
      else asked?.reject(new Error(`Pool metrics failed: ${m.error}`));
      return;
    }
    case "drain":
      drain(m);
      return;
    case "drain-abort":
      drains.get(m.id)?.abort();
      return;
    case "stop":
      stop();
      return;
  }
};
