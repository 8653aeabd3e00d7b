/**
 * What `Deno.Conn.read` costs the old generation of V8's heap: plain Deno
 * sockets, no NanoRPC code. Echo pairs exchange messages over loopback in a
 * child process traced with `--trace-gc-nvp`, once reading through
 * `Deno.Conn.read` and once through the op underneath it (Deno's internal
 * `core.read`, for this comparison only), and the traces are compared.
 *
 * ```sh
 * deno run -A bench/conn_read_old_space.ts
 * ```
 *
 * `Deno.Conn.read` (Deno 2.9, ext/net/01_net.js) adds each read's promise
 * to a per-connection `Set` and deletes it when the read settles. Deleting
 * the last entry shrinks the set, which gives it a new hash table, and V8
 * allocates that table in the generation the old one is in. A full
 * collection promotes everything alive in the young generation, the tables
 * of pending reads included; from then on every read of every connection
 * open at the time allocates its next table directly in the old
 * generation, which only the next full collection frees — and that one
 * promotes the tables again. Under load: a full collection every second or
 * two for as long as those connections live. bench/README.md ("Why our
 * peak RSS is higher") measures what it costs the NanoRPC server.
 *
 * Flags: `--connections` (default 100), `--messages` per connection
 * (default 5,000). Prints, for each way of reading, the reads done, the
 * full (mark-compact) collections, and the old generation's growth at
 * young collections that promoted nothing, per read.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type ConnRead, opRead } from "./_conn_read_op.ts";

/** How the echo pairs read. */
export type ReadPath = "conn" | "op";

/** One child's trace, summed. */
export interface ReadPathResult {
  path: ReadPath;
  reads: number;
  markCompacts: number;
  /** Old-generation bytes allocated directly (not promoted), per read. */
  oldBytesPerRead: number;
}

function reader(path: ReadPath): ConnRead {
  return path === "conn" ? (conn, buffer) => conn.read(buffer) : opRead();
}

/** The child: echo pairs, `messages` round trips on each connection. */
async function echoPairs(
  path: ReadPath,
  connections: number,
  messages: number,
): Promise<number> {
  const read = reader(path);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  const clients: Deno.Conn[] = [];
  const echoes: Promise<void>[] = [];
  for (let i = 0; i < connections; i++) {
    const accepted = listener.accept();
    clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    const server = await accepted;
    echoes.push((async () => {
      const buffer = new Uint8Array(64);
      for (let n; (n = await read(server, buffer)) !== null;) {
        await server.write(buffer.subarray(0, n));
      }
      server.close();
    })());
  }
  listener.close();
  let reads = 0;
  await Promise.all(clients.map(async (conn) => {
    const message = new Uint8Array(16);
    const answer = new Uint8Array(64);
    for (let i = 0; i < messages; i++) {
      await conn.write(message);
      for (let got = 0; got < message.length; reads += 2) {
        const n = await read(conn, answer);
        if (n === null) throw new Error("the echo side closed");
        got += n;
      }
    }
    conn.close();
  }));
  await Promise.all(echoes);
  return reads;
}

interface GcLine {
  gc: string;
  promoted: number;
  end_object_size: number;
  new_space_survived: number;
}

/** Sums a child's `--trace-gc-nvp` lines. */
export function summarize(
  path: ReadPath,
  reads: number,
  trace: string,
): ReadPathResult {
  let markCompacts = 0;
  let direct = 0;
  let old: number | undefined;
  for (const line of trace.split("\n")) {
    const at = line.indexOf("GC: {");
    if (at < 0) continue;
    let gc: GcLine;
    try {
      gc = JSON.parse(line.slice(at + 4));
    } catch {
      continue; // A line V8 wrote across another one.
    }
    const now = gc.end_object_size - gc.new_space_survived;
    if (gc.gc !== "s") markCompacts++;
    else if (old !== undefined && gc.promoted === 0 && now > old) {
      direct += now - old;
    }
    old = now;
  }
  return { path, reads, markCompacts, oldBytesPerRead: direct / reads };
}

async function child(
  path: ReadPath,
  connections: number,
  messages: number,
): Promise<ReadPathResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--trace-gc-nvp",
      new URL(import.meta.url).pathname,
      "--child",
      path,
      "--connections",
      String(connections),
      "--messages",
      String(messages),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  // V8 traces to stdout; the child reports its reads on stderr.
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  const reads = Number(/^reads (\d+)$/m.exec(err)?.[1]);
  if (code !== 0 || !reads) throw new Error(err || out);
  return summarize(path, reads, out);
}

/** Runs the echo pairs once per way of reading, each in its own child. */
export async function measure(
  connections: number,
  messages: number,
): Promise<ReadPathResult[]> {
  const results: ReadPathResult[] = [];
  for (const path of ["conn", "op"] as const) {
    results.push(await child(path, connections, messages));
  }
  return results;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      connections: { type: "string", default: "100" },
      messages: { type: "string", default: "5000" },
      child: { type: "string" },
    },
  });
  const connections = Number(values.connections);
  const messages = Number(values.messages);
  if (values.child === "conn" || values.child === "op") {
    const reads = await echoPairs(values.child, connections, messages);
    console.error(`reads ${reads}`);
  } else {
    console.log(
      `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${connections} echo pairs × ${messages} messages:`,
    );
    for (const r of await measure(connections, messages)) {
      const how = r.path === "conn" ? "Deno.Conn.read" : "the op (core.read)";
      console.log(
        `  ${how.padEnd(20)} ${r.reads} reads, ${r.markCompacts} full GCs, ${
          r.oldBytesPerRead.toFixed(1)
        } B of old generation allocated directly per read`,
      );
    }
  }
}
