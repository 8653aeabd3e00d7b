// The op underneath Deno.Conn.read, for the benchmarks that compare the two
// (bench/conn_read_old_space.ts, bench/serve.ts --conn-read op): Deno's
// Conn.read keeps each read's promise in a per-connection Set, the op does
// not. It is reached through Deno's internals, which may change in any
// release: diagnostics only, never the library.

interface Core {
  internalRidSymbol: symbol;
  read(rid: number, buffer: Uint8Array): Promise<number>;
}

/** A read of `conn` into `buffer`, as Deno.Conn.read: null at the end. */
export type ConnRead = (
  conn: Deno.Conn,
  buffer: Uint8Array,
) => Promise<number | null>;

function core(): Core {
  const deno = Deno as unknown as Record<symbol, { core?: Core }> & {
    internal?: symbol;
  };
  const found = deno.internal === undefined
    ? undefined
    : deno[deno.internal]?.core;
  if (typeof found?.read !== "function") {
    throw new Error(
      `Deno ${Deno.version.deno} has no internal core.read to compare with`,
    );
  }
  return found;
}

/** Reads through the op, without Deno.Conn.read's Set. */
export function opRead(): ConnRead {
  const { internalRidSymbol, read } = core();
  return async (conn, buffer) => {
    if (buffer.length === 0) return 0;
    const rid = (conn as unknown as Record<symbol, number>)[internalRidSymbol];
    const n = await read(rid, buffer);
    return n === 0 ? null : n;
  };
}

/**
 * Makes every Deno.Conn in this process (TCP, TLS, UNIX) read through the
 * op: Deno.Conn.prototype.read, found from a loopback pair opened once.
 */
export async function readConnsThroughOp(): Promise<void> {
  const read = opRead();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await accepted;
  listener.close();
  // TcpConn's prototype is Conn's subclass; read lives on Conn's.
  const connPrototype = Object.getPrototypeOf(Object.getPrototypeOf(client));
  if (!Object.hasOwn(connPrototype, "read")) {
    throw new Error("Deno.Conn.prototype.read is not where it was");
  }
  connPrototype.read = function (this: Deno.Conn, buffer: Uint8Array) {
    return read(this, buffer);
  };
  client.close();
  server.close();
}

/** The value of `--conn-read`, checked: `conn` (default) or `op`. */
export function connReadValue(value: string | undefined): "conn" | "op" {
  if (value === undefined || value === "conn" || value === "op") {
    return value ?? "conn";
  }
  throw new Error(`--conn-read must be conn or op, got ${value}`);
}

/**
 * What `--conn-read conn|op` asks of a benchmark server (bench/serve.ts,
 * raw_echo.ts): `op` makes its sockets read through the op, and says so.
 */
export async function connReadFlag(value: string | undefined): Promise<void> {
  if (connReadValue(value) === "conn") return;
  await readConnsThroughOp();
  console.log("sockets read through the op under Deno.Conn.read");
}
