// A load-generator shard, run in a Worker: it drives up to SHARD_SIZE
// connections, closed loop or paced, and reports a latency histogram.
//
// Why shards: one Deno event loop serves at most 128 ready sockets per turn
// (tokio's cooperative budget), and past that it serves them unfairly —
// with 1,000 connections in one loop some wait hundreds of ms while
// others run, even against a Go echo server. Every shard has its own event
// loop (a Worker is its own runtime) and stays under that budget, so the
// tail latency measured is the server's, not the generator's.
// Internal to bench/.

import {
  closeAll,
  connectMany,
  Histogram,
  ID_BASE,
  sleep,
  splitFrames,
  writeAll,
} from "./_harness.ts";
import { connectWebSockets, type LoadConn } from "./_ws_conn.ts";

/** Connections one shard drives at most. */
export const SHARD_SIZE = 100;

/** What a shard is told to do. */
export interface ShardTask {
  mode: "closed" | "paced";
  hostname: string;
  port: number;
  /** A UNIX socket to connect to instead of hostname:port. */
  path?: string;
  /** A `ws://` URL to connect to instead: the target speaks WebSocket. */
  websocket?: string;
  connections: number;
  /** Pre-encoded request frames, all `frameSize` long, ids ID_BASE + slot. */
  frames: Uint8Array;
  frameSize: number;
  /** Closed: requests in flight per connection (`frames` holds twice as
   * many). Paced: slots per client (requests unanswered at most). */
  slots: number;
  /** Paced: index of this shard's first client among all clients. */
  firstClient?: number;
  /** Paced: clients over all shards. */
  totalClients?: number;
  /** Paced: ms between one client's requests. */
  interval?: number;
  /** Paced: when the schedule starts, as `timeOrigin + now()` ms. */
  startAt?: number;
}

/** What a shard reports when stopped. */
export interface ShardReport {
  completed: number;
  seconds: number;
  errors: number;
  skipped: number;
  latency: Float64Array;
  lag: Float64Array;
}

/**
 * Messages to a shard: `start` connects (each connection answered one
 * PING before `ready`), `load` starts sending, `measure` starts counting,
 * `stop` ends.
 */
export type ShardCommand =
  | { type: "start"; task: ShardTask }
  | { type: "load" }
  | { type: "measure" }
  | { type: "stop" };

/** Messages from a shard. */
export type ShardEvent =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done"; report: ShardReport };

interface State {
  measuring: boolean;
  stopped: boolean;
  completed: number;
  errors: number;
  skipped: number;
  latency: Histogram;
  lag: Histogram;
}

/** Closed loop: `slots` requests in flight, one write per batch. */
async function closedLoop(
  conn: LoadConn,
  task: ShardTask,
  state: State,
): Promise<void> {
  const { frames, frameSize, slots } = task;
  const sentAt = new Float64Array(slots);
  let buf = new Uint8Array(Math.max(65536, 4 * frames.length));
  let filled = 0;
  let next = 0;
  let expect = 0;
  let now = 0;
  let received = 0;
  const onFrame = (id: number) => {
    if (id - ID_BASE !== expect) state.errors++;
    if (state.measuring) {
      state.latency.record(now - sentAt[expect]);
      state.completed++;
    }
    if (++expect === slots) expect = 0;
    received++;
  };
  const send = (k: number) => {
    const t = performance.now();
    for (let i = 0; i < k; i++) sentAt[(next + i) % slots] = t;
    // The frames hold 2×slots requests, so k ≤ slots of them starting at
    // next < slots are contiguous.
    const chunk = frames.subarray(next * frameSize, (next + k) * frameSize);
    next = (next + k) % slots;
    return writeAll(conn, chunk);
  };
  try {
    await send(slots);
    while (!state.stopped) {
      if (filled === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(filled));
      if (n === null) {
        state.errors++;
        return;
      }
      now = performance.now();
      filled += n;
      received = 0;
      const end = splitFrames(buf, filled, onFrame);
      if (end > 0) {
        buf.copyWithin(0, end, filled);
        filled -= end;
      }
      if (received > 0 && !state.stopped) await send(received);
    }
  } catch {
    if (!state.stopped) state.errors++;
  }
}

interface PacedClient {
  conn: LoadConn;
  sentAt: Float64Array;
  next: number;
  outstanding: number;
}

/** Paced: reads one client's answers. */
async function pacedReader(
  client: PacedClient,
  task: ShardTask,
  state: State,
): Promise<void> {
  let buf = new Uint8Array(16384);
  let filled = 0;
  let now = 0;
  const onFrame = (id: number) => {
    const slot = id - ID_BASE;
    if (slot < 0 || slot >= task.slots) {
      state.errors++;
      return;
    }
    client.outstanding--;
    if (state.measuring) {
      state.latency.record(now - client.sentAt[slot]);
      state.completed++;
    }
  };
  try {
    while (!state.stopped) {
      if (filled === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await client.conn.read(buf.subarray(filled));
      if (n === null) {
        state.errors++;
        return;
      }
      now = performance.now();
      filled += n;
      const end = splitFrames(buf, filled, onFrame);
      if (end > 0) {
        buf.copyWithin(0, end, filled);
        filled -= end;
      }
    }
  } catch {
    if (!state.stopped) state.errors++;
  }
}

/**
 * Paced: client i of all clients is due at start + i·interval/total +
 * k·interval; sends whatever is due about every millisecond.
 */
async function pacedTicker(
  clients: PacedClient[],
  task: ShardTask,
  state: State,
): Promise<void> {
  const { frames, frameSize, slots } = task;
  const total = task.totalClients!;
  const interval = task.interval!;
  const step = interval / total;
  const start = task.startAt! - performance.timeOrigin;
  const send = (c: PacedClient, due: number) => {
    if (c.outstanding >= slots) {
      if (state.measuring) state.skipped++;
      return;
    }
    const slot = c.next;
    c.next = (slot + 1) % slots;
    c.outstanding++;
    const now = performance.now();
    c.sentAt[slot] = now;
    if (state.measuring) state.lag.record(now - due);
    const chunk = frames.subarray(slot * frameSize, (slot + 1) * frameSize);
    c.conn.write(chunk).then((n) => {
      if (n !== chunk.length) state.errors++;
    }, () => {
      if (!state.stopped) state.errors++;
    });
  };
  // Sends of this shard's clients, in due order: round k, client j.
  let k = 0;
  let j = 0;
  const first = task.firstClient!;
  while (!state.stopped) {
    const now = performance.now();
    for (;;) {
      const due = start + (first + j) * step + k * interval;
      if (due > now) break;
      send(clients[j], due);
      if (++j === clients.length) {
        j = 0;
        k++;
      }
    }
    await sleep(1);
  }
}

async function run(task: ShardTask, post: (e: ShardEvent) => void) {
  const state: State = {
    measuring: false,
    stopped: false,
    completed: 0,
    errors: 0,
    skipped: 0,
    latency: new Histogram(),
    lag: new Histogram(),
  };
  const conns: LoadConn[] = task.websocket
    ? await connectWebSockets(task.websocket, task.connections)
    : await connectMany(task, task.connections);
  try {
    await withDeadline(
      Promise.all(conns.map(pingOnce)),
      HANDSHAKE_MS,
      `no PONG on every connection within ${HANDSHAKE_MS / 1000} s: ` +
        `is the target a NanoRPC server, and not overloaded?`,
    );
  } catch (err) {
    closeAll(conns);
    throw err;
  }
  let t0 = 0;
  let seconds = 0;
  const load = Promise.withResolvers<void>();
  const stopped = Promise.withResolvers<void>();
  onCommand = (command) => {
    if (command.type === "load") {
      load.resolve();
    } else if (command.type === "measure") {
      t0 = performance.now();
      state.measuring = true;
    } else if (command.type === "stop") {
      state.measuring = false;
      seconds = (performance.now() - t0) / 1000;
      state.stopped = true;
      load.resolve();
      stopped.resolve();
    }
  };
  // Connected and idle: the moment the server's idle RSS is read.
  post({ type: "ready" });
  await load.promise;
  let loops: Promise<void>[];
  if (task.mode === "closed") {
    loops = conns.map((c) => closedLoop(c, task, state));
  } else {
    const clients = conns.map((conn) => ({
      conn,
      sentAt: new Float64Array(task.slots),
      next: 0,
      outstanding: 0,
    }));
    loops = [
      ...clients.map((c) => pacedReader(c, task, state)),
      pacedTicker(clients, task, state),
    ];
  }
  await stopped.promise;
  await Promise.race([Promise.all(loops), sleep(500)]);
  closeAll(conns);
  await Promise.allSettled(loops);
  post({
    type: "done",
    report: {
      completed: state.completed,
      seconds,
      errors: state.errors,
      skipped: state.skipped,
      latency: state.latency.counts(),
      lag: state.lag.counts(),
    },
  });
}

/** PING, request_id 1: field 1 = 1, field 2 = PING (1). */
const PING_FRAME = new Uint8Array([0x04, 0x08, 0x01, 0x10, 0x01]);
const HANDSHAKE_MS = 30_000;

/** Sends one PING and reads until one whole frame has come back. */
async function pingOnce(conn: LoadConn): Promise<void> {
  await writeAll(conn, PING_FRAME);
  const buf = new Uint8Array(256);
  let filled = 0;
  while (splitFrames(buf, filled, () => {}) === 0) {
    if (filled === buf.length) throw new Error("PING answer over 256 bytes");
    const n = await conn.read(buf.subarray(filled));
    if (n === null) throw new Error("the target closed a connection at PING");
    filled += n;
  }
}

/** `promise`, or a rejection with `message` after `ms`. */
async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let onCommand: (command: ShardCommand) => void = () => {};

interface WorkerScope {
  onmessage: ((e: MessageEvent<ShardCommand>) => void) | null;
  postMessage(message: ShardEvent): void;
}

// Only when loaded as a worker: importing the types elsewhere is inert.
if (
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
    "undefined"
) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (e) => {
    const command = e.data;
    if (command.type === "start") {
      run(command.task, (event) => scope.postMessage(event)).catch((err) =>
        scope.postMessage({
          type: "failed",
          message: err instanceof Error ? err.message : String(err),
        })
      );
    } else onCommand(command);
  };
}
