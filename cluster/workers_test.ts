import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { Status } from "../wasm/wire.ts";
import { REQUEST } from "../testing/frames.ts";
import { RawClient } from "../testing/raw_client.ts";
import { waitFor, within } from "../testing/wait.ts";
import { Workers } from "./workers.ts";
import { spawnServer } from "./_testing.ts";

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

for (
  const [how, data] of [
    ["died after starting", { crash: true }],
    ["said it ended itself", { exit: true }],
  ] as const
) {
  Deno.test(`Workers goes on without a worker that ${how}: stats() and shutdown() count the others`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const pool = await Workers.start({
        count: 2,
        module: app,
        data: { path: `${dir}/pool.sock`, ...data },
      });
      await waitFor(
        async () =>
          (await within(pool.stats(), { message: "stats" })).workers === 1,
        { message: "worker 1 to be known gone" },
      );
      const final = await within(pool.shutdown(), { message: "the shutdown" });
      assert.equal(final.workers, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("Workers.start fails, rather than hang later, when a started worker dies while the next one starts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      Workers.start({
        count: 2,
        module: app,
        data: { path: `${dir}/pool.sock`, crashFirst: true },
        startTimeout: 10_000,
      }),
      /Worker 0 failed: .*worker 0 crashes/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Workers.start takes the module as a file path relative to the current directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = relative(Deno.cwd(), fromFileUrl(app));
    assert.ok(!path.startsWith("/"), path);
    const pool = await Workers.start({
      count: 1,
      module: path,
      data: { path: `${dir}/pool.sock` },
    });
    assert.equal((await pool.shutdown()).workers, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server --workers stops the pool and exits 1 when a worker dies", async () => {
  const dir = await Deno.makeTempDir();
  const crash = `${dir}/crash.ts`;
  await Deno.writeTextFile(
    crash,
    `export default (server) => server.handle("/crash", () => {
      setTimeout(() => { throw new Error("boom"); }, 0);
    });`,
  );
  try {
    const node = await spawnServer([
      "--workers",
      "2",
      "--module",
      crash,
      "--tcp",
      "127.0.0.1:0",
    ]);
    try {
      await node.waitFor(/2 workers listening/);
      using client = await RawClient.connect(node.addr);
      await client.call({
        requestId: 1,
        requestType: REQUEST,
        pathOneof: { case: "path", value: "/crash" },
      });
      const status = await within(node.child.status, {
        timeout: 10_000,
        message: "the exit",
      });
      assert.equal(status.code, 1);
      await node.waitFor(/served \d+ sessions.*\(1 workers\)/);
    } finally {
      await node.kill();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server --workers with only --serial opens no TCP listener in the other workers", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL("./main.ts", import.meta.url).pathname,
      "--workers",
      "2",
      "--log-level",
      "warn",
      "--serial",
      `${dir}/no-such-tty`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const lines: string[] = [];
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    await within(
      (async () => {
        while (!lines.some((l) => /workers listening/.test(l))) {
          const { value, done } = await reader.read();
          if (done) break;
          lines.push(...value.split("\n"));
        }
      })(),
      { timeout: 20_000, message: "the pool to start" },
    );
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      lines.push(...value.split("\n"));
    }
    assert.equal((await child.status).code, 0);
    assert.deepEqual(lines.filter((l) => /listening on \w+:/.test(l)), []);
    assert.ok(lines.some((l) => /served 0 sessions.*\(2 workers\)/.test(l)));
  } finally {
    try {
      child.kill();
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
