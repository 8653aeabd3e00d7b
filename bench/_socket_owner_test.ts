import assert from "node:assert/strict";
import { isLoopback, listenerPid } from "./_socket_owner.ts";

/** A child Deno process listening at `options`; says where once bound. */
async function listeningChild(listen: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const l = Deno.listen(${listen});
       console.log(JSON.stringify(l.addr));
       for await (const c of l) c.close();`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the child exited before listening");
    text += value;
  }
  reader.releaseLock();
  return {
    child,
    addr: JSON.parse(text) as Deno.NetAddr,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

Deno.test("listenerPid finds the child process listening on a TCP port", async () => {
  await using server = await listeningChild(
    `{ hostname: "127.0.0.1", port: 0 }`,
  );
  const owner = listenerPid({
    transport: "tcp",
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  assert.equal(owner.pid, server.child.pid, owner.note);
});

Deno.test("listenerPid finds the child process listening on a UNIX socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  try {
    await using server = await listeningChild(
      `{ transport: "unix", path: ${JSON.stringify(path)} }`,
    );
    const owner = listenerPid({ transport: "unix", path });
    assert.equal(owner.pid, server.child.pid, owner.note);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listenerPid leaves out this process and says why", () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const owner = listenerPid({
    transport: "tcp",
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  assert.equal(owner.pid, undefined);
  assert.match(owner.note, /no process/);
});

Deno.test("listenerPid does not look up a host that is not loopback", () => {
  const owner = listenerPid({
    transport: "tcp",
    hostname: "192.0.2.1",
    port: 80,
  });
  assert.equal(owner.pid, undefined);
  assert.match(owner.note, /not loopback/);
});

Deno.test("isLoopback accepts 127/8, ::1 and localhost only", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["0.0.0.0", "10.0.0.1", "example.com", "::"]) {
    assert.equal(isLoopback(h), false, h);
  }
});
