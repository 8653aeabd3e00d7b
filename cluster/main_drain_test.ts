// `deno task server --workers 2` processes receiving real signals: SIGUSR2
// drains both workers over --drain-window, then stops, as it does a single
// server; --stop-timeout bounds the stop.

import assert from "node:assert/strict";
import { pathRequest } from "../testing/frames.ts";
import { RawClient } from "../testing/raw_client.ts";
import { waitFor, within } from "../testing/wait.ts";
import { type ServerProcess, spawnServer } from "./_testing.ts";

/**
 * A `--module` for every worker: `/whoami` answers an id of the worker,
 * and with `slowStop` its shutdown takes a minute (saying so).
 */
async function workerModule(dir: string, slowStop = false): Promise<string> {
  const path = `${dir}/whoami.ts`;
  await Deno.writeTextFile(
    path,
    `const id = crypto.randomUUID();
export default (server) => {
  server.handle("/whoami", () => id);
  if (${slowStop}) {
    server.register({
      async beforeShutdown() {
        console.log("beforeShutdown running");
        await new Promise((r) => setTimeout(r, 60_000));
      },
    }, { name: "slow" });
  }
};`,
  );
  return path;
}

/**
 * Connects until each of the two workers has `perWorker` sessions or
 * more (the kernel picks the worker of each connection); the sessions by
 * worker.
 */
async function onBothWorkers(
  node: ServerProcess,
  perWorker: number,
): Promise<RawClient[][]> {
  await node.waitFor(/^2 workers listening on/); // (worker 1 listens too)
  const byWorker = new Map<string, RawClient[]>();
  const enough = () =>
    byWorker.size === 2 &&
    [...byWorker.values()].every((l) => l.length >= perWorker);
  for (let i = 0; i < 100 && !enough(); i++) {
    const c = await RawClient.connect(node.addr);
    const who = await c.call(pathRequest(1, "/whoami"));
    const id = new TextDecoder().decode(who.data);
    byWorker.set(id, [...byWorker.get(id) ?? [], c]);
  }
  const all = [...byWorker.values()];
  if (!enough()) {
    for (const c of all.flat()) c.close();
    throw new Error(`sessions by worker: ${all.map((l) => l.length)}`);
  }
  return all;
}

/** Whether nothing accepts connections at `addr`. */
async function refuses(addr: Deno.NetAddr): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: addr.hostname, port: addr.port }))
      .close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test("deno task server --workers 2 drains every worker over --drain-window on SIGUSR2, then exits 0 with the summary", async () => {
  const dir = await Deno.makeTempDir();
  const module = await workerModule(dir);
  await using node = await spawnServer(
    [
      "--workers",
      "2",
      "--drain-window",
      "1000",
      "--module",
      module,
      "--tcp",
      "127.0.0.1:0",
    ],
  );
  const workers = await onBothWorkers(node, 3);
  try {
    const start = performance.now();
    // When each session is closed (NaN: not by the server).
    const closed = workers.map((list) =>
      Promise.all(list.map(async (c) => {
        const byServer = await c.closedByServer(20_000);
        return byServer ? performance.now() - start : NaN;
      }))
    );
    node.child.kill("SIGUSR2");
    await node.waitFor(
      /^SIGUSR2: draining 2 workers over 1000 ms, then stopping$/,
    );
    await waitFor(() => refuses(node.addr), { message: "refused connections" });
    const status = await within(node.child.status, {
      timeout: 20_000,
      message: "the exit after the drain",
    });
    for (const [index, times] of (await Promise.all(closed)).entries()) {
      assert.ok(!times.includes(NaN), `worker ${index}: ${times}`);
      // k sessions closed in slots of 1000 / k ms, one each: the last one
      // at 1000 (k - 1) / k ms or later, so not all at once.
      const k = times.length;
      assert.ok(
        Math.max(...times) >= 1000 * (k - 1) / k,
        `worker ${index}: ${times}`,
      );
    }
    assert.equal(status.code, 0, node.lines.join("\n"));
    await node.waitFor(/^served \d+ sessions, .*\(2 workers\)$/);
  } finally {
    for (const c of workers.flat()) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server --workers 2 ignores a second SIGUSR2 while draining, saying so, and shuts down gracefully on SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  const module = await workerModule(dir);
  await using node = await spawnServer(
    [
      "--workers",
      "2",
      "--drain-window",
      "600000",
      "--module",
      module,
      "--tcp",
      "127.0.0.1:0",
    ],
  );
  const workers = await onBothWorkers(node, 1);
  try {
    node.child.kill("SIGUSR2");
    await node.waitFor(/^SIGUSR2: draining 2 workers over 600000 ms/);
    await waitFor(() => refuses(node.addr), { message: "refused connections" });
    node.child.kill("SIGUSR2");
    await node.waitFor(/^SIGUSR2 ignored: the pool is already draining$/);
    node.child.kill("SIGTERM");
    const status = await within(node.child.status, {
      timeout: 10_000,
      message: "the exit on SIGTERM",
    });
    assert.equal(status.code, 0, node.lines.join("\n"));
    for (const c of workers.flat()) {
      assert.equal(await c.closedByServer(), true);
    }
    await node.waitFor(/^served \d+ sessions, .*\(2 workers\)$/);
    const said = node.lines.filter((l) => l.startsWith("SIGUSR2"));
    assert.deepEqual(said, [
      "SIGUSR2: draining 2 workers over 600000 ms, then stopping",
      "SIGUSR2 ignored: the pool is already draining",
    ]);
    assert.ok(
      node.lines.some((l) => /^SIGTERM: shutting down gracefully/.test(l)),
    );
  } finally {
    for (const c of workers.flat()) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server --workers 2 ignores a SIGUSR2 while stopping, and terminates workers past --stop-timeout", async () => {
  const dir = await Deno.makeTempDir();
  const module = await workerModule(dir, true);
  await using node = await spawnServer(
    [
      "--workers",
      "2",
      "--stop-timeout",
      "1000",
      "--module",
      module,
      "--tcp",
      "127.0.0.1:0",
    ],
  );
  try {
    await node.waitFor(/^2 workers listening on/);
    node.child.kill("SIGTERM");
    await node.waitFor(/^beforeShutdown running$/);
    node.child.kill("SIGUSR2");
    await node.waitFor(/^SIGUSR2 ignored: the pool is already stopping$/);
    const status = await within(node.child.status, {
      timeout: 10_000,
      message: "the exit past --stop-timeout",
    });
    assert.equal(status.code, 0, node.lines.join("\n"));
    await node.waitFor(/worker 0 did not stop within 1000 ms; terminating it/);
    await node.waitFor(/^served 0 sessions, .*\(0 workers\)$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server --workers 2 stops at once on a second SIGTERM while stopping, saying so", async () => {
  const dir = await Deno.makeTempDir();
  const module = await workerModule(dir, true);
  await using node = await spawnServer(
    ["--workers", "2", "--module", module, "--tcp", "127.0.0.1:0"],
  );
  try {
    await node.waitFor(/^2 workers listening on/);
    node.child.kill("SIGTERM");
    await node.waitFor(/^beforeShutdown running$/);
    node.child.kill("SIGTERM");
    const status = await within(node.child.status, {
      timeout: 10_000,
      message: "the exit on the second SIGTERM",
    });
    // Not killed by the signal: the process ends itself, with its status.
    assert.equal(status.signal, null);
    assert.equal(status.code, 143, node.lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server checks --stop-timeout and --drain-window before starting a pool", async () => {
  const cases = [
    [["--workers", "2", "--stop-timeout", "soon"], /--stop-timeout wants/],
    [["--workers", "2", "--stop-timeout", "0"], /--stop-timeout wants/],
    [["--stop-timeout", "500"], /give --workers N/],
    [["--workers", "2", "--drain-window", "-1"], /--drain-window wants/],
  ] as const;
  for (const [args, message] of cases) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-net",
        new URL("./main.ts", import.meta.url).pathname,
        ...args,
        "--tcp",
        "127.0.0.1:0",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(stderr), message);
  }
});
