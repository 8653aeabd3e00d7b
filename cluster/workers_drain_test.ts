// Workers.drain over real UNIX sockets, one per worker: every worker
// drains its own sessions over the window, and no worker that dies, is
// wedged, or is shutting down holds the drain.

import assert from "node:assert/strict";
import { pathRequest, RawClient, waitFor, within } from "../testing/mod.ts";
import type { WorkerAppData } from "../testing/worker_app.ts";
import { Workers } from "./workers.ts";
import type { WorkersOptions } from "./workers_options.ts";

const app = new URL("../testing/worker_app.ts", import.meta.url);
const text = (s: string) => new TextEncoder().encode(s);

/** A pool of two workers, each listening on a UNIX socket of its own. */
async function startPool(
  data: Partial<WorkerAppData> = {},
  options: Partial<WorkersOptions> = {},
) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/pool.sock`;
  const pool = await Workers.start({
    count: 2,
    module: app,
    data: { path, ownSockets: true, ...data } satisfies WorkerAppData,
    ...options,
  });
  const clients: RawClient[] = [];
  return {
    pool,
    /** Opens a session on worker `index`. */
    async connect(index: number): Promise<RawClient> {
      const c = await RawClient.connect({
        transport: "unix",
        path: `${path}.${index}`,
      });
      clients.push(c);
      return c;
    },
    /** Whether worker `index` refuses new connections. */
    async refuses(index: number): Promise<boolean> {
      try {
        (await Deno.connect({ transport: "unix", path: `${path}.${index}` }))
          .close();
        return false;
      } catch {
        return true;
      }
    },
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.close();
      await pool.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** `perWorker` sessions on each of the two workers, in worker order. */
async function sessions(
  t: Awaited<ReturnType<typeof startPool>>,
  perWorker: number,
): Promise<RawClient[][]> {
  const open = await Promise.all(
    [0, 1].map((index) =>
      Promise.all(
        Array.from({ length: perWorker }, () => t.connect(index)),
      )
    ),
  );
  await waitFor(
    async () => (await t.pool.stats()).sessions === 2 * perWorker,
    { message: `${2 * perWorker} sessions` },
  );
  return open;
}

Deno.test("Workers.drain closes every worker's sessions spread over the window, stops each accepting, and sums their counters", async () => {
  await using t = await startPool();
  const open = await sessions(t, 4);
  const start = performance.now();
  // When each session is closed (NaN: not by the server).
  const closed = open.map((list) =>
    Promise.all(list.map(async (c) => {
      const byServer = await c.closedByServer(10_000);
      return byServer ? performance.now() - start : NaN;
    }))
  );
  const drained = await t.pool.drain({ window: 400 });
  assert.equal(drained.workers, 2);
  assert.equal(drained.drainCloses, 8);
  for (const [index, times] of (await Promise.all(closed)).entries()) {
    assert.ok(!times.includes(NaN), `worker ${index}: ${times}`);
    // Worker `index` closed its 4 sessions in slots of 100 ms, one each:
    // the last one at 300 ms or later, so not all at once.
    assert.ok(Math.max(...times) >= 300, `worker ${index}: ${times}`);
    assert.equal(await t.refuses(index), true, `worker ${index} accepts`);
  }
  await waitFor(async () => (await t.pool.stats()).sessions === 0);
});

Deno.test("Workers.drain leaves out a worker that dies meanwhile, rather than wait for it", async () => {
  await using t = await startPool();
  const doomed = await t.connect(1);
  // Its handler never finishes, and the drain waits for it to: only the
  // worker's death (in 300 ms) can end worker 1's drain.
  await doomed.send(pathRequest(1, "/crash", text("300")));
  await waitFor(async () => (await t.pool.stats()).sessions === 1);
  const drained = await within(
    t.pool.drain({ window: 0, settleTimeout: Infinity }),
    { timeout: 5000, message: "the drain" },
  );
  assert.equal(drained.workers, 1);
});

Deno.test("Workers.drain leaves out a worker still draining after options.timeout", async () => {
  await using t = await startPool({}, { stopTimeout: 300 });
  const busy = await t.connect(0);
  // This holds worker 0's event loop for 60 s.
  busy.call(pathRequest(1, "/busy", text("60000"))).catch(() => {});
  await waitFor(
    async () => (await t.pool.stats({ timeout: 100 })).workers === 1,
    { message: "worker 0 to be wedged" },
  );
  const drained = await within(t.pool.drain({ window: 0, timeout: 300 }), {
    timeout: 5000,
    message: "the drain",
  });
  assert.equal(drained.workers, 1);
});

Deno.test("Workers.drain called again while draining closes what is left over its own window, and both resolve", async () => {
  await using t = await startPool();
  const open = (await sessions(t, 2)).flat();
  // Slots of 150 s: the second drain closes what the first has not yet
  // (drainCloses counts the sessions either closed).
  const first = t.pool.drain({ window: 600_000 });
  await waitFor(async () => await t.refuses(0) && await t.refuses(1));
  const second = await within(t.pool.drain({ window: 0 }), {
    message: "the second drain",
  });
  assert.equal(second.workers, 2);
  assert.equal(second.drainCloses, 4);
  const firstDone = await within(first, { message: "the first drain" });
  assert.equal(firstDone.drainCloses, 4, "each session closed once");
  for (const c of open) assert.equal(await c.closedByServer(), true);
});

Deno.test("Workers.drain during shutdown drains nothing and resolves once the shutdown has; a shutdown ends a drain under way", async () => {
  await using t = await startPool();
  const open = (await sessions(t, 2)).flat();
  const under = t.pool.drain({ window: 600_000 });
  await waitFor(async () => await t.refuses(0) && await t.refuses(1));
  let down = false;
  const shutdown = t.pool.shutdown().then((s) => (down = true, s));
  const late = t.pool.drain({ window: 0 }).then((s) => {
    assert.equal(down, true, "resolved before the shutdown ended");
    return s;
  });
  assert.equal((await shutdown).workers, 2);
  assert.equal((await within(late, { message: "the late drain" })).workers, 0);
  await within(under, { message: "the drain under way" });
  for (const c of open) assert.equal(await c.closedByServer(), true);
});

Deno.test("Workers.drain stops every worker's drain when its signal aborts, and sessions not yet closed stay", async () => {
  await using t = await startPool();
  await sessions(t, 1);
  const stop = new AbortController();
  const drain = t.pool.drain({ window: 600_000, signal: stop.signal });
  await waitFor(async () => await t.refuses(0) && await t.refuses(1));
  stop.abort();
  const drained = await within(drain, { message: "the aborted drain" });
  assert.equal(drained.workers, 2);
  assert.equal(drained.sessions, 2);
  // Aborted before it starts: not even a window of 0 closes any.
  const none = await t.pool.drain({ window: 0, signal: AbortSignal.abort() });
  assert.deepEqual([none.workers, none.drainCloses, none.sessions], [2, 0, 2]);
});

Deno.test("Workers.drain rejects a bad window, settleTimeout or timeout before any worker drains", async () => {
  await using t = await startPool();
  await assert.rejects(t.pool.drain({ window: -1 }), RangeError);
  await assert.rejects(t.pool.drain({ window: Infinity }), RangeError);
  await assert.rejects(
    t.pool.drain({ settleTimeout: NaN }),
    /settleTimeout must be a number/,
  );
  await assert.rejects(
    t.pool.drain({ timeout: -5 }),
    /timeout must be a number of milliseconds >= 0/,
  );
  for (const index of [0, 1]) {
    const c = await t.connect(index);
    const who = await c.call(pathRequest(1, "/whoami"));
    assert.equal(new TextDecoder().decode(who.data), String(index));
  }
});
