import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST } from "../testing/frames.ts";
import { RawClient } from "../testing/raw_client.ts";
import { waitFor, within } from "../testing/wait.ts";
import { Workers } from "./workers.ts";

const app = new URL("../testing/worker_app.ts", import.meta.url);

Deno.test("Workers starts every worker, serves from worker 0's UNIX socket, sums their counters and stops them", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/pool.sock`;
  try {
    const pool = await Workers.start({ count: 2, module: app, data: { path } });
    assert.equal(pool.count, 2);
    assert.deepEqual(pool.urls, [`unix://${path}`]);
    using client = await RawClient.connect({ transport: "unix", path });
    const who = await client.call({
      requestId: 1,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/whoami" },
    });
    assert.deepEqual([who.responseStatus, new TextDecoder().decode(who.data)], [
      Status.OK,
      "0",
    ]);
    const live = await pool.stats();
    assert.equal(live.workers, 2);
    assert.equal(live.sessions, 1);
    client.close();
    const final = await pool.shutdown();
    assert.equal(final.workers, 2);
    assert.equal(final.sessionsOpened, 1);
    assert.equal(final.sessions, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Workers.start fails with the worker's error and stops the others", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      Workers.start({
        count: 2,
        module: app,
        data: { path: `${dir}/pool.sock`, fail: true },
      }),
      /Worker 1 failed to start: worker 1 refuses/,
    );
    await assert.rejects(
      Workers.start({ count: 0, module: app }),
      /count must be a positive integer/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Workers answers stats() asked during shutdown(), and shutdown() gets every worker's final counters", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pool = await Workers.start({
      count: 2,
      module: app,
      data: { path: `${dir}/pool.sock` },
    });
    const down = pool.shutdown(); // SIGTERM, say
    const polled = pool.stats(); // and a metrics poll at the same moment
    assert.equal((await down).workers, 2);
    await within(polled, { message: "the stats asked during shutdown" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Workers goes on without a worker that died after starting: stats() and shutdown() count the others", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pool = await Workers.start({
      count: 2,
      module: app,
      data: { path: `${dir}/pool.sock`, crash: true },
    });
    let live = await pool.stats();
    await waitFor(async () => (live = await pool.stats()).workers === 1, {
      message: "worker 1 to be known dead",
    });
    assert.equal(live.workers, 1);
    const final = await within(pool.shutdown(), { message: "the shutdown" });
    assert.equal(final.workers, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server refuses --drain-window with --workers, which has no server to drain", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL("./main.ts", import.meta.url).pathname,
      "--workers",
      "2",
      "--drain-window",
      "300",
      "--tcp",
      "127.0.0.1:0",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.match(
    new TextDecoder().decode(stderr),
    /--drain-window drains a single server/,
  );
});
