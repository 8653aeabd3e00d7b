// The command line both raw baseline servers share: `--tcp HOST:PORT`
// (default 127.0.0.1:0), `--conn-read conn|op` (as bench/serve.ts: op
// reads sockets through the op under Deno.Conn.read), a `listening on`
// line like our server's, and an exit on SIGINT or SIGTERM.

import { parseArgs } from "node:util";
import { connReadFlag } from "./_conn_read_op.ts";

/** Listens as `args` say and hands every connection to `serve`. */
export async function runRawServer(
  args: string[],
  serve: (conn: Deno.TcpConn) => void,
): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      tcp: { type: "string", default: "127.0.0.1:0" },
      "conn-read": { type: "string", default: "conn" },
    },
  });
  await connReadFlag(values["conn-read"]);
  const at = values.tcp.lastIndexOf(":");
  const listener = Deno.listen({
    hostname: values.tcp.slice(0, at) || "127.0.0.1",
    port: Number(values.tcp.slice(at + 1)),
  });
  const addr = listener.addr;
  console.log(`listening on tcp://${addr.hostname}:${addr.port}`);
  const stop = () => {
    listener.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  for await (const conn of listener) serve(conn);
}
