// The bar with real processes: `deno task server --http` serves the
// gateway, a `deno task call --subscribe` process watches the room, and a
// JSON POST (fetch, then curl) is the message it prints.

import assert from "node:assert/strict";
import { waitFor } from "../testing/mod.ts";

const root = new URL("../", import.meta.url);

/** The flags of `deno task server` and `deno task call` (deno.json). */
function taskFlags(task: "server" | "call"): string[] {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", root)),
  ) as { tasks: Record<string, string> };
  const words = config.tasks[task].split(" ");
  return words.slice(words.indexOf("run") + 1, -1);
}

/** A child process whose output is collected as it comes. */
function spawn(entry: string, flags: string[], args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, new URL(entry, root).pathname, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = { stdout: "", stderr: "" };
  const pump = (name: "stdout" | "stderr") =>
    child[name].pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (text[name] += chunk) }),
    );
  const done = Promise.all([pump("stdout"), pump("stderr")]);
  return {
    text,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      await done;
      return status;
    },
  };
}

Deno.test("deno task server --http: POST /nanorpc_demo.Room/Send with JSON answers 200 and deno task call --subscribe prints the message", async () => {
  const server = spawn("cluster/main.ts", taskFlags("server"), [
    "--tcp",
    "127.0.0.1:0",
    "--http",
    "127.0.0.1:0",
    "--log-level",
    "warn",
  ]);
  let watcher: ReturnType<typeof spawn> | undefined;
  try {
    await waitFor(() => /gateway/.test(server.text.stdout), {
      timeout: 15_000,
      message: "the server's startup lines",
    });
    const tcp = /listening on (tcp:\/\/\S+)/.exec(server.text.stdout)![1];
    const http = /listening on (http:\/\/\S+)/.exec(server.text.stdout)![1];
    watcher = spawn("client/main.ts", taskFlags("call"), [
      "--subscribe",
      tcp,
      "/room/messages",
    ]);
    const w = watcher;
    await waitFor(() => /subscribed to \/room\/messages/.test(w.text.stderr), {
      timeout: 15_000,
      message: "the subscriber",
    });

    const res = await fetch(`${http}/nanorpc_demo.Room/Send`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"text":"hi"}',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    await waitFor(() => w.text.stdout.includes('"text":"hi"'), {
      message: "the subscriber to print the message",
    });
    const line = w.text.stdout.split("\n").find((l) => l.includes('"hi"'))!;
    assert.deepEqual(JSON.parse(line), { from: "anonymous", text: "hi" });

    const curl = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-X",
        "POST",
        `${http}/nanorpc_demo.Room/Send`,
        "-H",
        "content-type: application/json",
        "-d",
        '{"text":"hi from curl"}',
        "-w",
        " %{http_code}",
      ],
      stdout: "piped",
    }).output().catch(() => undefined);
    if (curl) {
      assert.equal(new TextDecoder().decode(curl.stdout), "{} 200");
      await waitFor(() => w.text.stdout.includes("hi from curl"), {
        message: "the subscriber to print curl's message",
      });
    } else console.warn("curl is not installed: its half was skipped");
  } finally {
    await watcher?.stop();
    const status = await server.stop();
    assert.equal(status.code, 0, server.text.stderr);
  }
});

Deno.test("deno task server --http --no-gateway leaves method paths unserved", async () => {
  const server = spawn("cluster/main.ts", taskFlags("server"), [
    "--http",
    "127.0.0.1:0",
    "--no-gateway",
    "--log-level",
    "warn",
  ]);
  try {
    await waitFor(() => /chat page/.test(server.text.stdout), {
      timeout: 15_000,
      message: "the server's startup lines",
    });
    const http = /listening on (http:\/\/\S+)/.exec(server.text.stdout)![1];
    assert.doesNotMatch(server.text.stdout, /gateway/);
    const res = await fetch(`${http}/nanorpc_demo.Room/Send`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"text":"hi"}',
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  } finally {
    await server.stop();
  }
});
