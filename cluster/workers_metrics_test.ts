import assert from "node:assert/strict";
import { pathRequest, RawClient, waitFor, within } from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import { spawnServer } from "./_testing.ts";
import { Workers } from "./workers.ts";

const app = new URL("../testing/worker_app.ts", import.meta.url);

/** The value of the series `series` in `text`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length));
}

/** Clients connected to a pool's TCP port, and one of them per worker. */
interface Reached extends Disposable {
  all: RawClient[];
  byWorker: Map<string, RawClient>;
}

/** Connects to `port` until both workers have answered /whoami. */
async function reachBoth(port: number): Promise<Reached> {
  const all: RawClient[] = [];
  const byWorker = new Map<string, RawClient>();
  const reached = {
    all,
    byWorker,
    [Symbol.dispose]: () => all.forEach((c) => c.close()),
  };
  try {
    while (byWorker.size < 2) {
      if (all.length === 64) throw new Error("64 connections, one worker");
      const client = await RawClient.connect({
        transport: "tcp",
        hostname: "127.0.0.1",
        port,
      });
      all.push(client);
      const who = await client.call(pathRequest(1, "/whoami"));
      assert.equal(who.responseStatus, Status.OK);
      byWorker.set(new TextDecoder().decode(who.data), client);
    }
  } catch (err) {
    reached[Symbol.dispose]();
    throw err;
  }
  return reached;
}

/** A pool of two test workers; worker 0 listens on a UNIX socket. */
async function twoWorkers(): Promise<
  { pool: Workers; client: RawClient } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/pool.sock`;
  const pool = await Workers.start({ count: 2, module: app, data: { path } });
  const client = await RawClient.connect({ transport: "unix", path });
  return {
    pool,
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await pool.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("Workers.metrics merges every worker's metrics and counts the workers in the sum", async () => {
  await using pool = await twoWorkers();
  for (let id = 1; id <= 3; id++) {
    await pool.client.call(pathRequest(id, "/echo", new Uint8Array([id])));
  }
  const text = await pool.pool.metrics();
  assert.equal(sample(text, "nanorpc_workers"), 2);
  assert.equal(
    sample(text, 'nanorpc_requests_total{path="/echo",status="OK"}'),
    3,
  );
  assert.equal(sample(text, 'nanorpc_sessions{transport="unix"}'), 1);
  // One header per family: every family's series together.
  const families = text.split("\n").filter((l) => l.startsWith("# TYPE "))
    .map((l) => l.split(" ")[2]);
  assert.deepEqual(families, [...new Set(families)]);
});

Deno.test("Workers.metrics counts a worker that does not answer in time with its last answer, so the summed counters never go down", async () => {
  await using pool = await twoWorkers();
  const echo = 'nanorpc_requests_total{path="/echo",status="OK"}';
  for (let id = 1; id <= 3; id++) {
    await pool.client.call(pathRequest(id, "/echo", new Uint8Array([id])));
  }
  assert.equal(sample(await pool.pool.metrics(), echo), 3);
  // Hold worker 0's event loop well past the metrics' wait.
  const busy = pool.client.call(
    pathRequest(9, "/busy", new TextEncoder().encode("3000")),
  );
  let text = "";
  await waitFor(async () => {
    const asked = performance.now();
    text = await pool.pool.metrics({ timeout: 100 });
    return performance.now() - asked >= 100; // worker 0 did not answer
  }, { message: "worker 0 to miss a scrape" });
  // Its last answer stands in: not left out, its counts not lost.
  assert.equal(sample(text, "nanorpc_workers"), 2);
  assert.equal(sample(text, echo), 3);
  await busy;
  assert.equal(sample(await pool.pool.metrics(), "nanorpc_workers"), 2);
});

Deno.test("Workers answers a worker that asks for the pool's metrics while the pool starts, rather than leave it waiting", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/pool.sock`;
  const pool = await Workers.start({
    count: 2,
    module: app,
    data: { path, earlyMetrics: true },
  });
  try {
    using client = await RawClient.connect({ transport: "unix", path });
    const early = await within(client.call(pathRequest(1, "/early")), {
      message: "the early metrics' outcome",
    });
    assert.match(
      new TextDecoder().decode(early.data),
      /the pool is still starting/,
    );
  } finally {
    await pool.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server --workers serves the whole pool's metrics at worker 0's /metrics", async () => {
  const dir = await Deno.makeTempDir();
  const whoami = `${dir}/whoami.ts`;
  // Each worker imports the module into its own isolate: its own id.
  await Deno.writeTextFile(
    whoami,
    `const me = crypto.randomUUID();
    export default (server) => server.handle("/whoami", () => me);`,
  );
  try {
    await using node = await spawnServer([
      "--workers",
      "2",
      "--module",
      whoami,
      "--tcp",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
    ]);
    const http = (await node.waitFor(/listening on http:\/\//)).match(
      /http:\/\/\S+/,
    )![0];
    await node.waitFor(/2 workers listening/);
    using clients = await reachBoth(node.addr.port);
    const response = await fetch(`${http}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.equal(sample(text, "nanorpc_workers"), 2);
    assert.equal(
      sample(text, 'nanorpc_sessions{transport="tcp"}'),
      clients.all.length,
    );
    assert.equal(
      sample(text, 'nanorpc_requests_total{path="/whoami",status="OK"}'),
      clients.all.length,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
