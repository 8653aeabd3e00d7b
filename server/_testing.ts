// Test helpers: a raw peer that speaks NanoRPC through protobuf-es (not
// through our codec), so server tests check the wire, not our own decoder.

import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  sizeDelimitedEncode,
  sizeDelimitedPeek,
} from "@bufbuild/protobuf/wire";
import {
  type NanoRPCRequest,
  NanoRPCRequestSchema,
  type NanoRPCResponse,
  NanoRPCResponseSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { concat as concatBytes } from "../wasm/_bytes.ts";

/** Init of a request message. */
export type RequestInit = MessageInitShape<typeof NanoRPCRequestSchema>;

/** Encodes one request frame with protobuf-es. */
export function frame(init: RequestInit): Uint8Array {
  return sizeDelimitedEncode(
    NanoRPCRequestSchema,
    create(NanoRPCRequestSchema, init),
  );
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** A NanoRPC peer over a raw socket. */
export class RawPeer {
  conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(addr: Deno.Addr): Promise<RawPeer> {
    if (addr.transport === "unix") {
      return new RawPeer(
        await Deno.connect({ transport: "unix", path: addr.path }),
      );
    }
    const net = addr as Deno.NetAddr;
    return new RawPeer(
      await Deno.connect({ hostname: net.hostname, port: net.port }),
    );
  }

  async write(bytes: Uint8Array): Promise<void> {
    let n = 0;
    while (n < bytes.length) n += await this.conn.write(bytes.subarray(n));
  }

  send(init: RequestInit): Promise<void> {
    return this.write(frame(init));
  }

  /** Reads the next response frame; throws if the connection ends first. */
  async read(timeoutMs = 5000): Promise<NanoRPCResponse> {
    const timer = setTimeout(() => this.conn.close(), timeoutMs);
    try {
      for (;;) {
        const peek = sizeDelimitedPeek(this.#buf);
        if (peek.eof === false && peek.offset + peek.size <= this.#buf.length) {
          const body = this.#buf.subarray(peek.offset, peek.offset + peek.size);
          const msg = fromBinary(NanoRPCResponseSchema, body);
          this.#buf = this.#buf.slice(peek.offset + peek.size);
          return msg;
        }
        const chunk = new Uint8Array(65536);
        const n = await this.conn.read(chunk);
        if (n === null) throw new Error("connection closed by the server");
        this.#buf = concat(this.#buf, chunk.subarray(0, n));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves true when the server closes the connection within the time. */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    const timer = setTimeout(() => this.conn.close(), timeoutMs);
    try {
      const chunk = new Uint8Array(65536);
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) return true;
      }
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a request and reads the response. */
  async call(init: RequestInit): Promise<NanoRPCResponse> {
    await this.send(init);
    return await this.read();
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

export type { NanoRPCRequest, NanoRPCResponse };

/** A logger that drops everything, for tests that provoke errors. */
export const silent = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};

/** A listening server and the raw peers a test opened to it. */
export interface TestServer<S> extends AsyncDisposable {
  server: S;
  /** Opens a raw peer to the server; closed on dispose. */
  peer(): Promise<RawPeer>;
}

/** Listens on a free TCP port; disposing closes the peers, then shuts down. */
export async function listenForTest<
  S extends {
    listen(o: { port: number }): Promise<{ addr: Deno.Addr }>;
    shutdown(): Promise<void>;
  },
>(server: S): Promise<TestServer<S>> {
  const { addr } = await server.listen({ port: 0 });
  const peers: RawPeer[] = [];
  return {
    server,
    async peer() {
      const p = await RawPeer.connect(addr);
      peers.push(p);
      return p;
    },
    async [Symbol.asyncDispose]() {
      for (const p of peers) p.close();
      await server.shutdown();
    },
  };
}

/** Whether openssl is installed (TLS tests skip without it). */
export const hasOpenssl: boolean = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

async function openssl(...args: string[]): Promise<void> {
  const { success } = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "null",
  }).output();
  if (!success) throw new Error(`openssl ${args[0]} failed`);
}

/** A CA and a localhost certificate it signed, as PEM text. */
export async function certificates(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  await openssl(
    "req",
    "-x509",
    ...ec,
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=test-ca",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
  );
  await openssl(
    "req",
    ...ec,
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/req.csr`,
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    `${dir}/req.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${dir}/ext.cnf`,
    "-out",
    `${dir}/cert.pem`,
  );
  return {
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}
