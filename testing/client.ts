/**
 * Test kit: a real `Client` connected to a hand-driven {@link RawServer},
 * the starting point of most client tests.
 *
 * @module
 */

import { Client, type ClientOptions, connect } from "../client/mod.ts";
import { RESPONSE } from "./frames.ts";
import { RawServer, type RawSession } from "./raw_server.ts";

/** A raw server, a client connected to it, and the session it accepted. */
export interface ClientWithRawServer extends AsyncDisposable {
  /** The hand-driven server; `accept()` the client's next connection. */
  readonly server: RawServer;
  /** The client under test. */
  readonly client: Client;
  /** The server's end of the client's first connection. */
  readonly session: RawSession;
}

/**
 * Starts a {@link RawServer} and connects a client to it. Keepalive is off
 * unless `options` turn it on. Disposing closes the client, then the
 * server.
 *
 * @param options Client options.
 * @returns The server, the client and the accepted session.
 *
 * @example
 * ```ts
 * import { clientWithRawServer } from "./client.ts";
 *
 * await using t = await clientWithRawServer();
 * const call = t.client.request("/echo");
 * await t.session.answer(new Uint8Array([1]));
 * await call;
 * ```
 */
export async function clientWithRawServer(
  options: ClientOptions = {},
): Promise<ClientWithRawServer> {
  const server = new RawServer();
  const accepted = server.accept();
  accepted.catch(() => {}); // Awaited below unless connecting failed.
  try {
    const client = await connect(server.url, { keepalive: false, ...options });
    const session = await accepted;
    return {
      server,
      client,
      session,
      async [Symbol.asyncDispose]() {
        await client.close();
        await server.close();
      },
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}

/**
 * A client of `server` with `resume: true` (keepalive off, reconnecting
 * after 5-10 ms, unless `options` say otherwise), and its first
 * connection's server end, which has answered the client's
 * `/_nanorpc/session` request with `token`.
 *
 * @param server The raw server the client connects to.
 * @param token The resume token the first connection hands out.
 * @param options More client options, e.g. `{ timeout: 0 }`.
 * @returns The client and its first connection's server end.
 *
 * @example
 * ```ts
 * import { RawServer, resumingClient } from "./mod.ts";
 *
 * await using server = new RawServer();
 * const { client } = await resumingClient(server, new Uint8Array([7]));
 * await client.close();
 * ```
 */
export async function resumingClient(
  server: RawServer,
  token: Uint8Array,
  options: ClientOptions = {},
): Promise<{ client: Client; peer: RawSession }> {
  const accepted = server.accept();
  const client = new Client(server.url, {
    resume: true,
    keepalive: false,
    reconnect: { initial: 5, max: 10, jitter: 0 },
    ...options,
  });
  const peer = await accepted;
  const ask = (await peer.next())!;
  if (ask.pathOneof.value !== "/_nanorpc/session") {
    throw new Error(`Expected the session request, got ${ask.pathOneof.value}`);
  }
  await peer.send({
    requestId: ask.requestId,
    responseType: RESPONSE,
    data: token,
  });
  return { client, peer };
}
