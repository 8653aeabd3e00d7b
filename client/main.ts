/**
 * The command-line NanoRPC client, run by `deno task call`:
 *
 * ```sh
 * deno task call tcp://127.0.0.1:7411 /echo hello
 * deno task call unix:///tmp/nanorpc.sock /echo --data-hex 0102ff --hex
 * deno task call tcp://127.0.0.1:7411 --ping
 * deno task call tcp://127.0.0.1:7411 /room/messages --subscribe
 * ```
 *
 * Prints the response data (as text when it is valid, printable UTF-8, as
 * hex otherwise) and exits
 * 0 on STATUS_OK; 1 when the server answers another status, 2 for a usage
 * error, 3 when the server cannot be reached or does not answer in time,
 * 4 for any other failure. With `--json` every outcome, errors included,
 * is one JSON object per line on stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { statusName } from "../wasm/wire.ts";
import { parseAddress } from "./address.ts";
import { type Client, connect } from "./client.ts";
import { ClientError, NanoRpcError } from "./errors.ts";
import type { ClientOptions } from "./options.ts";

const USAGE = `usage: deno task call ADDRESS PATH [DATA] [options]
       deno task call ADDRESS --ping
       deno task call ADDRESS PATH --subscribe [--filter TEXT]

ADDRESS is tcp://host:port, tls://host:port, unix:///path,
ws://host:port/nanorpc or serial:///dev/ttyUSB0?baud=115200.

options:
  --data-hex HEX    request data (or subscribe filter) given as hex
  --filter TEXT     subscribe filter as text (--filter-hex HEX for bytes)
  --hash            send the path as its FNV-1a hash
  --hex             print data as hex
  --json            print one JSON object per response, update, ping or
                    error
  --timeout MS      how long to wait for an answer (default 10000)
  --ca-cert FILE    extra root certificate (PEM) for tls:// addresses
  --ping            print the round-trip time of a PING
  --subscribe       print each update on its own line until Ctrl-C,
                    reconnecting and resubscribing if the server restarts
  -h, --help        show this help

exit status: 0 OK, 1 the server answered another status, 2 usage error,
3 server unreachable or no answer in time, 4 any other failure.`;

const EXIT_STATUS = 1;
const EXIT_USAGE = 2;
const EXIT_CONNECTION = 3;
const EXIT_OTHER = 4;

/** The command line is wrong: exit 2 with the usage. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

function fromHex(text: string, flag: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) {
    throw new UsageError(`${flag} wants an even number of hex digits`);
  }
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}

/** The bytes as text when they are valid UTF-8 and printable. */
function text(bytes: Uint8Array): string | undefined {
  for (const b of bytes) {
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) {
      return undefined;
    }
  }
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

interface Output {
  hex: boolean;
  json: boolean;
}

function print(out: Output, data: Uint8Array, status = 1, message = "") {
  if (out.json) {
    console.log(JSON.stringify({
      status: statusName(status),
      message,
      data: text(data) ?? null,
      hex: hex(data),
    }));
  } else {
    console.log(out.hex ? hex(data) : text(data) ?? hex(data));
  }
}

function parse(args: string[]) {
  const { values, positionals } = usage(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        "data-hex": { type: "string" },
        filter: { type: "string" },
        "filter-hex": { type: "string" },
        hash: { type: "boolean", default: false },
        hex: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        timeout: { type: "string", default: "10000" },
        "ca-cert": { type: "string" },
        ping: { type: "boolean", default: false },
        subscribe: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    })
  );
  if (values.help) return { help: true as const };
  const [addressText, path, dataText, ...rest] = positionals;
  if (!addressText) throw new UsageError("Give a server address");
  const address = usage(() => parseAddress(addressText));
  if (!values.ping && !path) throw new UsageError("Give a path, or --ping");
  if (rest.length > 0) throw new UsageError(`Unexpected "${rest[0]}"`);
  if (dataText !== undefined && values["data-hex"] !== undefined) {
    throw new UsageError("Give DATA or --data-hex, not both");
  }
  const timeout = Number(values.timeout);
  if (!(timeout >= 0)) throw new UsageError("--timeout wants milliseconds");
  const data = values["data-hex"] !== undefined
    ? fromHex(values["data-hex"], "--data-hex")
    : new TextEncoder().encode(dataText ?? "");
  const filter = values["filter-hex"] !== undefined
    ? fromHex(values["filter-hex"], "--filter-hex")
    : values.filter !== undefined
    ? new TextEncoder().encode(values.filter)
    : data;
  return { help: false as const, address, path, data, filter, timeout, values };
}

/** Runs `fn`, turning what it throws into a {@link UsageError}. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message, { cause: error });
  }
}

async function subscribe(
  client: Client,
  path: string,
  filter: Uint8Array,
  out: Output,
): Promise<number> {
  client.addEventListener("disconnect", (event) => {
    if (!event.error) return; // Closed on purpose.
    console.error(`connection lost (${event.error.message}); reconnecting`);
  });
  client.addEventListener("reconnect", () => {
    console.error(`reconnected; resubscribing to ${path}`);
  });
  let failed: Error | undefined;
  const subscription = await client.subscribe(path, filter, {
    onUpdate: (update) => print(out, update),
    onError: (error) => failed = error,
  });
  console.error(`subscribed to ${path}; Ctrl-C to stop`);
  const stop = Promise.withResolvers<void>();
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop.resolve);
  // Ends on a signal, or when the subscription ends by itself.
  const ended = (async () => {
    for await (const _ of subscription) { /* updates go to onUpdate */ }
  })().catch((error) => failed ??= error);
  await Promise.race([stop.promise, ended]);
  for (const signal of signals) {
    Deno.removeSignalListener(signal, stop.resolve);
  }
  if (failed) throw failed;
  await subscription.unsubscribe().catch(() => {});
  return 0;
}

async function run(args: string[]): Promise<number> {
  const parsed = parse(args);
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const { address, path, data, filter, timeout, values } = parsed;
  const out = { hex: values.hex, json: values.json };
  const options: ClientOptions = {
    timeout,
    hash: values.hash,
    connectTimeout: timeout || undefined,
    keepalive: values.subscribe,
    reconnect: values.subscribe ? { initial: 100, max: 5000 } : false,
  };
  const caCert = values["ca-cert"];
  if (caCert) {
    try {
      options.caCerts = [await Deno.readTextFile(caCert)];
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new UsageError(
        `Cannot read --ca-cert ${caCert}: ${(error as Error).message}`,
      );
    }
  }
  await using client = await connect(address, options);
  if (values.ping) {
    const ms = await client.ping();
    console.log(
      out.json
        ? JSON.stringify({ status: "OK", ms: Number(ms.toFixed(3)) })
        : `${ms.toFixed(3)} ms`,
    );
    return 0;
  }
  if (values.subscribe) return await subscribe(client, path!, filter, out);
  const response = await client.request(path!, data);
  print(out, response.data, response.status, response.message);
  return 0;
}

/**
 * Prints why the command failed (one JSON object on stdout with `--json`,
 * a line on stderr otherwise) and returns the exit status.
 */
export function report(error: unknown, json: boolean): number {
  const message = error instanceof Error ? error.message : String(error);
  const fail = (code: number, status: string | null, text: string) => {
    if (json) {
      const name = error instanceof Error ? error.name : "Error";
      console.log(JSON.stringify(
        status ? { status, message } : { status, error: name, message },
      ));
    } else {
      console.error(text);
    }
    return code;
  };
  if (error instanceof UsageError) {
    return fail(EXIT_USAGE, null, `error: ${message}\n\n${USAGE}`);
  }
  if (error instanceof Deno.errors.NotCapable) {
    return fail(
      EXIT_CONNECTION,
      null,
      `error: ${message}\n(UNIX sockets need --allow-read and --allow-write)`,
    );
  }
  if (error instanceof NanoRpcError && !(error instanceof ClientError)) {
    const name = statusName(error.status);
    return fail(EXIT_STATUS, name, `error: ${name}: ${message}`);
  }
  if (error instanceof ClientError) {
    return fail(EXIT_CONNECTION, null, `error: ${message}`);
  }
  return fail(EXIT_OTHER, null, `error: ${message}`);
}

if (import.meta.main) {
  const json = Deno.args.includes("--json");
  const code = await run(Deno.args).catch((error) => report(error, json));
  Deno.exit(code);
}
