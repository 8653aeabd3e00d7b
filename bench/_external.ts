// External targets of the load benchmark: NanoRPC servers that are already
// running (the Go reference, another implementation, an older build of
// ours), given as `--target NAME=tcp://HOST:PORT[?pid=PID]` or
// `NAME=unix:///PATH[?pid=PID]`. Internal to bench/.

import { create, fromBinary } from "@bufbuild/protobuf";
import {
  sizeDelimitedEncode,
  sizeDelimitedPeek,
} from "@bufbuild/protobuf/wire";
import {
  NanoRPCRequestSchema,
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import {
  fnv1a,
  RequestType,
  ResponseType,
  Status,
  statusName,
} from "../wasm/wire.ts";
import {
  closeAll,
  connectMany,
  cpuSeconds,
  splitFrames,
  type Target,
  writeAll,
} from "./_harness.ts";
import { type ListenAddress, listenerPid } from "./_socket_owner.ts";

/** What `--target` says. */
export interface ExternalSpec {
  name: string;
  address: ListenAddress;
  /** The address as a URL, without the pid. */
  url: string;
  /** The server's process, when given with `?pid=`. */
  pid?: number;
}

const SYNTAX = "--target wants NAME=tcp://HOST:PORT or NAME=unix:///PATH, " +
  "optionally ending in ?pid=PID (the server's process, for CPU and RSS)";

/** Parses one `--target` value; throws saying what is wrong. */
export function parseTarget(value: string): ExternalSpec {
  const eq = value.indexOf("=");
  const name = value.slice(0, eq);
  if (eq <= 0 || !/^[\w.-]+$/.test(name)) {
    throw new Error(
      `${SYNTAX}; the name (letters, digits, . _ -) is ` +
        `missing in ${JSON.stringify(value)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(value.slice(eq + 1));
  } catch {
    throw new Error(`${SYNTAX}; got ${JSON.stringify(value)}`);
  }
  const pid = parsePid(url.searchParams, value);
  if (url.protocol === "tcp:") {
    const port = Number(url.port);
    if (!url.hostname || !(port > 0) || url.pathname) {
      throw new Error(
        `${SYNTAX}; ${JSON.stringify(value)} needs a host ` +
          `and a port and nothing after them`,
      );
    }
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return {
      name,
      address: { transport: "tcp", hostname, port },
      url: `tcp://${url.host}`,
      pid,
    };
  }
  if (url.protocol === "unix:" && url.pathname.startsWith("/") && !url.host) {
    const path = decodeURIComponent(url.pathname);
    return {
      name,
      address: { transport: "unix", path },
      url: `unix://${path}`,
      pid,
    };
  }
  throw new Error(`${SYNTAX}; got ${JSON.stringify(value)}`);
}

function parsePid(params: URLSearchParams, value: string): number | undefined {
  const keys = [...params.keys()];
  if (keys.some((k) => k !== "pid") || keys.length > 1) {
    throw new Error(
      `${SYNTAX}; the only option is pid, got ` +
        JSON.stringify(value),
    );
  }
  const text = params.get("pid");
  if (text === null) return undefined;
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new Error(
      `${SYNTAX}; pid must be a process id, got ` +
        JSON.stringify(text),
    );
  }
  return pid;
}

/**
 * A {@link Target} for a running server: checks it answers PING and
 * `/echo`, and finds its process when not given (see listenerPid). The
 * returned note says where the pid came from or why there is none.
 */
export async function externalTarget(
  spec: ExternalSpec,
): Promise<{ target: Target; note: string }> {
  const a = spec.address;
  const where = a.transport === "tcp"
    ? { hostname: a.hostname, port: a.port }
    : { hostname: "", port: 0, path: a.path };
  await checkEcho(spec, where);
  let pid = spec.pid;
  let note: string;
  if (pid !== undefined) {
    if (Number.isNaN(cpuSeconds(pid))) {
      throw new Error(
        `--target ${spec.name}: there is no process ${pid} ` +
          `this user can read in /proc; give the server's own pid or none`,
      );
    }
    note = `pid ${pid} (given)`;
  } else {
    const owner = listenerPid(a);
    pid = owner.pid;
    note = pid !== undefined
      ? `pid ${pid} (${owner.note})`
      : `no pid: ${owner.note}; add ?pid=PID to record its CPU and RSS`;
  }
  const known = pid;
  return {
    target: {
      name: spec.name,
      pid: known,
      ...where,
      url: spec.url,
      external: true,
      cpuSeconds: () => cpuSeconds(known),
      stop: () => Promise.resolve(),
    },
    note,
  };
}

const CHECK_MS = 10_000;

/** One connection: PING must get PONG, `/echo` must give its data back. */
async function checkEcho(
  spec: ExternalSpec,
  where: { hostname: string; port: number; path?: string },
): Promise<void> {
  let conns: Deno.Conn[];
  try {
    conns = await connectMany(where, 1);
  } catch (err) {
    throw new Error(
      `--target ${spec.name}: cannot connect to ${spec.url} ` +
        `(${err instanceof Error ? err.message : err}); is the server running?`,
    );
  }
  const data = new TextEncoder().encode("nanorpc bench check");
  const timer = setTimeout(() => closeAll(conns), CHECK_MS);
  try {
    const [ping, echo] = await exchange(conns[0], data);
    if (ping.responseType !== ResponseType.PONG || ping.requestId !== 1) {
      throw new Error(
        `answered PING with type ${ping.responseType}, id ` +
          `${ping.requestId} instead of PONG, id 1`,
      );
    }
    if (echo.responseStatus !== Status.OK) {
      const why = echo.responseMessage ? ` (${echo.responseMessage})` : "";
      throw new Error(
        `answered /echo with ${statusName(echo.responseStatus)}${why}; the ` +
          `load needs the demo's /echo handler, as deno task server has`,
      );
    }
    if (echo.requestId !== 2 || !sameBytes(echo.data, data)) {
      throw new Error(
        `answered /echo with other data or id; /echo must ` +
          `return its request data`,
      );
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`--target ${spec.name} at ${spec.url} ${why}`);
  } finally {
    clearTimeout(timer);
    closeAll(conns);
  }
}

/** Sends PING (id 1) and REQUEST /echo (id 2); the first two answers. */
async function exchange(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<NanoRPCResponse[]> {
  const ping = sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: 1,
      requestType: RequestType.PING,
    }),
  );
  const echo = sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, {
      requestId: 2,
      requestType: RequestType.REQUEST,
      pathOneof: { case: "pathHash", value: fnv1a("/echo") },
      data,
    }),
  );
  await writeAll(conn, new Uint8Array([...ping, ...echo]));
  const buf = new Uint8Array(4096);
  let filled = 0;
  const ends: number[] = [];
  while (ends.length < 2) {
    if (filled === buf.length) throw new Error("answered with over 4 KiB");
    const n = await conn.read(buf.subarray(filled)).catch(() => null);
    if (n === null) {
      throw new Error(
        "closed the connection (or took over 10 s) instead " +
          "of answering PING and /echo",
      );
    }
    filled += n;
    ends.length = 0;
    splitFrames(buf, filled, (_, end) => ends.push(end));
  }
  let at = 0;
  return ends.slice(0, 2).map((end) => {
    const peek = sizeDelimitedPeek(buf.subarray(at, end));
    const body = buf.subarray(at + (peek.offset ?? 0), end);
    at = end;
    return fromBinary(NanoRPCResponseSchema, body);
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
