import assert from "node:assert/strict";
import { pathRequest, RawClient, waitFor, within } from "../testing/mod.ts";
import { Workers } from "./workers.ts";

const app = new URL("../testing/worker_app.ts", import.meta.url);

Deno.test("Workers.stats and shutdown do not wait forever for a wedged worker", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/pool.sock`;
  const pool = await Workers.start({
    count: 2,
    module: app,
    data: { path },
    stopTimeout: 300,
  });
  try {
    using client = await RawClient.connect({ transport: "unix", path });
    // Worker 0 serves the UNIX socket: this holds its event loop for 60 s.
    client.call(pathRequest(1, "/busy", new TextEncoder().encode("60000")))
      .catch(() => {}); // Its connection ends with the worker.
    await waitFor(
      async () => (await pool.stats({ timeout: 100 })).workers === 1,
      { message: "worker 0 to be left out" },
    );
    const final = await within(pool.shutdown(), {
      timeout: 10_000,
      message: "the shutdown",
    });
    assert.equal(final.workers, 1);
  } finally {
    await pool.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
