// `deno task server` as a process with the operational flags: the issue's
// bar for metrics, rate limits and resumption, and the drain on SIGUSR2.

import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { Status } from "../wasm/wire.ts";
import {
  concat,
  parsePrometheus,
  PING,
  RawClient,
  REQUEST,
  requestFrame,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";

/** Starts server/main.ts; resolves its TCP and HTTP ports once bound. */
async function spawnServer(args: string[]) {
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
  const reading = (async () => {
    let rest = "";
    for await (
      const text of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const stderr = new Response(child.stderr).text();
  const port = (scheme: string) => {
    const line = lines.find((l) => l.startsWith(`listening on ${scheme}://`));
    return line ? Number(/:(\d+)\/?$/.exec(line)![1]) : undefined;
  };
  await waitFor(() => port("tcp") !== undefined && port("http") !== undefined, {
    timeout: 20_000,
    message: "the server to listen",
  });
  return {
    child,
    lines,
    tcp: port("tcp")!,
    http: port("http")!,
    async stop(signal: Deno.Signal | null = "SIGTERM") {
      try {
        if (signal) child.kill(signal);
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await reading;
      return { status, stderr: await stderr };
    },
  };
}

const connectRaw = (port: number) =>
  RawClient.connect({ transport: "tcp", hostname: "127.0.0.1", port });

function frame(id: number, path: string, data = new Uint8Array()) {
  return requestFrame({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data,
  });
}

Deno.test({
  name: "deno task server --http --rate-limit 50 meets the operations bar",
  async fn() {
    const server = await spawnServer([
      "--tcp",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      "--rate-limit",
      "50",
      "--log-level",
      "warn",
    ]);
    try {
      // Metrics after five /echo calls.
      const a = await connectRaw(server.tcp);
      for (let i = 1; i <= 5; i++) await a.call({ ...frameInit(i, "/echo") });
      const res = await fetch(`http://127.0.0.1:${server.http}/metrics`);
      const m = parsePrometheus(await res.text());
      assert.ok(
        m.value("nanorpc_requests_total", { path: "/echo", status: "OK" })! >=
          5,
      );
      assert.equal(m.types.get("nanorpc_sessions"), "gauge");
      assert.equal(m.value("nanorpc_sessions", { transport: "tcp" }), 1);

      // 200 pipelined requests on one session: all answered, taking at
      // least 2 s; another session's pings meanwhile within 0.5 s.
      const flood = await connectRaw(server.tcp);
      const frames = Array.from(
        { length: 200 },
        (_, i) => frame(i + 1, "/echo"),
      );
      const started = performance.now();
      await flood.write(concat(...frames));
      const ids: number[] = [];
      const answered = (async () => {
        while (ids.length < 200) ids.push((await flood.read(20_000)).requestId);
      })();
      await waitFor(() => ids.length >= 50, { message: "the burst" });
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        await a.call({ requestId: 100 + i, requestType: PING });
        assert.ok(performance.now() - t0 < 500);
      }
      await answered;
      assert.ok(performance.now() - started >= 2000);
      assert.deepEqual(ids, Array.from({ length: 200 }, (_, i) => i + 1));

      await chatResume(server.tcp, server.http);
    } finally {
      const { status } = await server.stop();
      assert.equal(status.code, 0);
    }
  },
});

function frameInit(id: number, path: string, data = new Uint8Array()) {
  return {
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path" as const, value: path },
    data,
  };
}

/** The chat scenario, by hand. */
async function chatResume(port: number, http: number): Promise<void> {
  const ada = await connectRaw(port);
  const join = toBinary(ChatJoinSchema, {
    $typeName: "nanorpc_demo.ChatJoin",
    name: "ada",
  });
  await ada.call(frameInit(1, "/room/join", join));
  const ack = await ada.call({
    requestId: 7,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/room/messages" },
  });
  assert.equal(ack.responseStatus, Status.OK);
  const token = (await ada.call(frameInit(2, "/_nanorpc/session"))).data
    .slice();
  ada.close();
  const bob = await connectRaw(port);
  const say = (text: string) =>
    toBinary(ChatMessageSchema, {
      $typeName: "nanorpc_demo.ChatMessage",
      from: "",
      text,
    });
  const back = await connectRaw(port);
  // Once the server noticed the drop, the session lingers.
  await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${http}/metrics`);
    return parsePrometheus(await res.text()).value(
      "nanorpc_sessions_lingering",
    ) === 1;
  }, { message: "the session to linger" });
  await bob.call(frameInit(3, "/room/send", say("you missed this")));
  const resumed = await back.call(frameInit(1, "/_nanorpc/resume", token));
  assert.equal(resumed.responseStatus, Status.OK);
  const missed = await back.read();
  assert.deepEqual([missed.requestId, missed.responseType], [7, UPDATE]);
  assert.equal(
    fromBinary(ChatMessageSchema, missed.data).text,
    "you missed this",
  );
  await back.send(frameInit(2, "/room/send", say("back")));
  const live = await back.read();
  assert.equal(live.requestId, 7);
  assert.equal(fromBinary(ChatMessageSchema, live.data).from, "ada");
  assert.equal((await back.read()).requestId, 2);
  const again = await connectRaw(port);
  const refused = await again.call(frameInit(1, "/_nanorpc/resume", token));
  assert.equal(refused.responseStatus, Status.NOT_FOUND);
  for (const raw of [bob, back, again]) raw.close();
}

Deno.test({
  name:
    "deno task server drains on SIGUSR2: sessions closed over the window, then it exits",
  async fn() {
    const server = await spawnServer([
      "--tcp",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      "--drain-window",
      "400",
      "--log-level",
      "warn",
    ]);
    const raws = await Promise.all(
      Array.from({ length: 8 }, () => connectRaw(server.tcp)),
    );
    for (const [i, raw] of raws.entries()) {
      assert.equal(
        (await raw.call({ requestId: i + 1, requestType: PING })).requestId,
        i + 1,
      );
    }
    server.child.kill("SIGUSR2");
    await waitFor(() => server.lines.some((l) => l.startsWith("SIGUSR2")));
    server.child.kill("SIGUSR2"); // A second one while draining is ignored.
    for (const raw of raws) {
      assert.equal(await raw.closedByServer(10_000), true);
    }
    const { status } = await server.stop(null);
    assert.equal(status.code, 0);
    // Said once: the second signal started nothing.
    assert.equal(
      server.lines.filter((l) => l.includes("SIGUSR2: draining over 400 ms"))
        .length,
      1,
    );
  },
});
