// `deno task server` as a real process: listeners, the demo, signals.

import assert from "node:assert/strict";
import { RequestType, Status } from "../wasm/wire.ts";
import { RawClient, within } from "../testing/mod.ts";

/** Starts server/main.ts and collects its stdout lines. */
function spawnServer(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./main.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  const done = (async () => {
    const decoder = new TextDecoderStream();
    let rest = "";
    for await (const text of child.stdout.pipeThrough(decoder)) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      waiters.splice(0).forEach((w) => w());
    }
  })();
  const stderr = new Response(child.stderr).text();
  return {
    child,
    lines,
    /** The first `count` stdout lines matching `pattern`, once printed. */
    linesMatching(pattern: RegExp, count = 1): Promise<string[]> {
      const found = (async () => {
        for (;;) {
          const hits = lines.filter((l) => pattern.test(l));
          if (hits.length >= count) return hits;
          await new Promise<void>((r) => waiters.push(r));
        }
      })();
      return within(found, {
        timeout: 10_000,
        message: `${count} line(s) matching ${pattern} from the server`,
      });
    },
    async stop(signal?: Deno.Signal) {
      if (signal) child.kill(signal);
      const status = await child.status;
      await done;
      return { status, stderr: await stderr };
    },
  };
}

Deno.test("deno task server listens on TCP and UNIX and stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/demo.sock`;
  const server = spawnServer([
    "--tcp",
    "127.0.0.1:0",
    "--unix",
    path,
    "--log-level",
    "warn",
  ]);
  try {
    const [tcpLine, unixLine] = await server.linesMatching(/^listening on /, 2);
    const port = Number(tcpLine.match(/tcp:\/\/127\.0\.0\.1:(\d+)$/)?.[1]);
    assert.ok(port > 0, tcpLine);
    assert.equal(unixLine, `listening on unix://${path}`);
    for (
      const addr of [{ transport: "tcp", hostname: "127.0.0.1", port }, {
        transport: "unix",
        path,
      }] as Deno.Addr[]
    ) {
      const peer = await RawClient.connect(addr);
      assert.equal(
        (await peer.call({ requestId: 3, requestType: RequestType.PING }))
          .requestId,
        3,
      );
      const echo = await peer.call({
        requestId: 4,
        requestType: RequestType.REQUEST,
        pathOneof: { case: "path", value: "/echo" },
        data: new Uint8Array([1, 2]),
      });
      assert.deepEqual([echo.responseStatus, [...echo.data]], [Status.OK, [
        1,
        2,
      ]]);
      peer.close();
    }
    const { status } = await server.stop("SIGTERM");
    assert.equal(status.code, 0);
    assert.ok(
      server.lines.some((l) =>
        /^served 2 sessions, 4 frames in, 4 out/.test(l)
      ),
      server.lines.join("\n"),
    );
    await assert.rejects(
      Deno.lstat(path),
      Deno.errors.NotFound,
      "socket file removed at shutdown",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task server shuts down on SIGINT and rejects bad flags with usage", async () => {
  const server = spawnServer(["--tcp", "127.0.0.1:0"]);
  await server.linesMatching(/^listening on tcp:/);
  const { status } = await server.stop("SIGINT");
  assert.equal(status.code, 0);

  const bad = spawnServer(["--tcp", "nonsense"]);
  const { status: result, stderr } = await bad.stop();
  assert.equal(result.code, 2);
  assert.match(stderr, /--tcp wants HOST:PORT/);
  assert.match(stderr, /usage: deno task server/);
});

Deno.test("deno task server names a port in use and exits 1, without the usage text", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const server = spawnServer(["--tcp", `127.0.0.1:${port}`]);
  const exited = await within(server.child.status, {
    timeout: 10_000,
    message: "the failure",
  }).catch(() => undefined);
  const { status, stderr } = await server.stop(exited ? undefined : "SIGKILL");
  assert.equal(status.code, 1);
  assert.match(
    stderr,
    new RegExp(`Cannot listen on tcp://127.0.0.1:${port}: `),
  );
  assert.doesNotMatch(stderr, /usage:/);
});

Deno.test("deno task server refuses flag values it would misread: an empty port, an empty or fractional number", async () => {
  for (
    const [args, message] of [
      [["--tcp", "127.0.0.1:"], /--tcp wants HOST:PORT/],
      [["--tcp", "127.0.0.1:0", "--handler-timeout", ""], /--handler-timeout/],
      [["--tcp", "127.0.0.1:0", "--max-message-size", "1.5"], /whole number/],
    ] as const
  ) {
    const server = spawnServer([...args]);
    // It exits by itself: a server that listened instead is stopped.
    const exited = await within(server.child.status, {
      timeout: 10_000,
      message: "the refusal",
    }).catch(() => undefined);
    const { status, stderr } = await server.stop(
      exited ? undefined : "SIGKILL",
    );
    assert.equal(status.code, 2, args.join(" "));
    assert.match(stderr, message);
  }
});

Deno.test("deno task server --module loads a module whose path holds # and %", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nanorpc #1 %20 " });
  try {
    const path = `${dir}/app #2.ts`;
    await Deno.writeTextFile(
      path,
      `export default (server) => server.handle("/hello", () => "from the module");\n`,
    );
    const server = spawnServer(["--tcp", "127.0.0.1:0", "--module", path]);
    const [line] = await server.linesMatching(/^listening on tcp:/);
    const url = line.replace(/^listening on /, "").trim();
    using client = await RawClient.connect(tcpAddr(url));
    const answer = await client.call({
      requestId: 1,
      requestType: RequestType.REQUEST,
      pathOneof: { case: "path", value: "/hello" },
    });
    assert.equal(new TextDecoder().decode(answer.data), "from the module");
    const { status } = await server.stop("SIGTERM");
    assert.equal(status.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `tcp://HOST:PORT` as a Deno address. */
function tcpAddr(url: string): Deno.NetAddr {
  const { hostname, port } = new URL(url);
  return { transport: "tcp", hostname, port: Number(port) };
}
