/**
 * A client whose server is a child process speaking NanoRPC over its
 * stdio (`server_over_stdio.ts`). The dialer spawns a new child for every
 * connection, so when the child dies the client reconnects by starting
 * another one.
 *
 * ```sh
 * deno run --allow-run examples/client_over_stdio.ts
 * ```
 *
 * @module
 */

import { connect } from "@nanorpc/nanorpc/client";
import { webStreamPair } from "@nanorpc/nanorpc/transport";

const script = new URL("./server_over_stdio.ts", import.meta.url).pathname;

await using client = await connect(() => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return webStreamPair(
    { readable: child.stdout, writable: child.stdin },
    { remoteAddr: { transport: "stdio", path: script } },
  );
});

const { data } = await client.request("/echo", new TextEncoder().encode("hi"));
console.log(new TextDecoder().decode(data)); // "hi"
