/**
 * The command-line NanoRPC client, run by `deno task call`:
 *
 * ```sh
 * deno task call tcp://127.0.0.1:7411 --list
 * deno task call tcp://127.0.0.1:7411 --describe /room/send
 * deno task call tcp://127.0.0.1:7411 /room/send '{"text":"hi"}'
 * deno task call --subscribe tcp://127.0.0.1:7411 /room/messages
 * deno task call tcp://127.0.0.1:7411 /echo hello
 * deno task call unix:///tmp/nanorpc.sock /echo --data-hex 0102ff --hex
 * deno task call tcp://127.0.0.1:7411 --ping
 * ```
 *
 * The types of a server's paths come from its reflection service
 * (`/_nanorpc/reflection`), or from `--proto FILE` / `--descriptor-set
 * FILE` when given (then the server is not asked). Request data and
 * filters of a typed path are written as protobuf JSON; responses and
 * updates of a typed path print as protobuf JSON, one object per line.
 * Untyped paths take DATA as text (or `--data-hex`) and print text when it
 * is valid, printable UTF-8, hex otherwise.
 *
 * Exits 0 on STATUS_OK; 1 when the server answers another status, 2 for a
 * usage error, 3 when the server cannot be reached or does not answer in
 * time, 4 for any other failure. With `--json` every outcome, errors
 * included, is one JSON object per line on stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { statusName } from "../wasm/wire.ts";
import { parseAddress } from "./address.ts";
import { connect } from "./connect.ts";
import { describeLines, listLines } from "./_cli_describe.ts";
import { encodeJson, type Output, print } from "./_cli_output.ts";
import { compileProto } from "./_cli_proto.ts";
import { subscribe } from "./_cli_subscribe.ts";
import {
  fetchSchema,
  missingTypes,
  type PathInfo,
  pathInfo,
  readDescriptorSet,
  type Schema,
  SchemaError,
  typesForCall,
} from "./_cli_schema.ts";
import { DataError, fromHex, usage, UsageError } from "./_cli_usage.ts";
import { ClientError, NanoRpcError, ProtocolError } from "./errors.ts";
import { MalformedReason } from "../wasm/malformed.ts";
import type { ClientOptions } from "./options.ts";

export { UsageError };

const USAGE = `usage: deno task call ADDRESS PATH [DATA] [options]
       deno task call ADDRESS --list | --describe PATH
       deno task call ADDRESS PATH --subscribe [--filter TEXT]
       deno task call ADDRESS --ping

ADDRESS is tcp://host:port, tls://host:port, unix:///path,
ws://host:port/nanorpc or serial:///dev/ttyUSB0?baud=115200. DATA (and
--filter) of a typed path is protobuf JSON, e.g. '{"text":"hi"}'; of an
untyped path, text.

options:
  --list            print every path: kind, hash, types, service method
  --describe PATH   print a path's message types with their fields (or a
                    message type's, given its full name)
  --proto FILE      take the types from a .proto file (compiled offline
                    with buf) instead of asking the server
  --import-path DIR where --proto's imports are found (repeatable; the
                    file's folder and nanorpc.proto's are always searched)
  --descriptor-set FILE  take the types from a binary FileDescriptorSet
  --data-hex HEX    request data (or subscribe filter) as raw hex bytes
  --filter TEXT     subscribe filter (--filter-hex HEX for raw bytes)
  --hash            send the path as its FNV-1a hash
  --hex             print data as hex, even of a typed path
  --emit-defaults   print fields that hold their default value too
  --json            print one JSON object per response, update, ping,
                    path or error
  --timeout MS      how long to wait for an answer (default 10000)
  --max-message-size BYTES  largest frame sent or accepted (default
                    1048576); match the server's
  --ca-cert FILE    extra root certificate (PEM) for tls:// addresses
  --ping            print the round-trip time of a PING
  --subscribe       print each update on its own line until Ctrl-C,
                    reconnecting and resubscribing if the server restarts
  -h, --help        show this help

exit status: 0 OK, 1 the server answered another status, 2 usage error,
3 server unreachable or no answer in time, 4 any other failure (also an
answer that does not decode as its type, printed raw).`;

const EXIT_STATUS = 1;
const EXIT_USAGE = 2;
const EXIT_CONNECTION = 3;
const EXIT_OTHER = 4;

function parse(args: string[]) {
  const { values, positionals } = usage(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        list: { type: "boolean", default: false },
        describe: { type: "string" },
        proto: { type: "string" },
        "import-path": { type: "string", multiple: true, default: [] },
        "descriptor-set": { type: "string" },
        "data-hex": { type: "string" },
        filter: { type: "string" },
        "filter-hex": { type: "string" },
        hash: { type: "boolean", default: false },
        hex: { type: "boolean", default: false },
        "emit-defaults": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        timeout: { type: "string", default: "10000" },
        "max-message-size": { type: "string" },
        "ca-cert": { type: "string" },
        ping: { type: "boolean", default: false },
        subscribe: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    })
  );
  if (values.help) return { help: true as const };
  const inspect = values.list || values.describe !== undefined;
  const files = values.proto !== undefined ||
    values["descriptor-set"] !== undefined;
  if (values.proto !== undefined && values["descriptor-set"] !== undefined) {
    throw new UsageError("Give --proto or --descriptor-set, not both");
  }
  const [addressText, path, dataText, ...rest] = positionals;
  if (!addressText && !(inspect && files)) {
    throw new UsageError("Give a server address");
  }
  const address = addressText
    ? usage(() => parseAddress(addressText))
    : undefined;
  if (!values.ping && !inspect && !path) {
    throw new UsageError("Give a path, or --ping, --list or --describe PATH");
  }
  // --ping takes the address only; --list and --describe a path at most.
  const extra = values.ping ? path ?? dataText : inspect ? path : rest[0];
  if (extra !== undefined) throw new UsageError(`Unexpected "${extra}"`);
  if (
    !values.subscribe &&
    (values.filter !== undefined || values["filter-hex"] !== undefined)
  ) {
    throw new UsageError("--filter and --filter-hex go with --subscribe");
  }
  if (dataText !== undefined && values["data-hex"] !== undefined) {
    throw new UsageError("Give DATA or --data-hex, not both");
  }
  const timeout = Number(values.timeout);
  if (!(timeout >= 0)) throw new UsageError("--timeout wants milliseconds");
  const sizeText = values["max-message-size"];
  const maxMessageSize = sizeText === undefined ? undefined : Number(sizeText);
  if (
    sizeText !== undefined &&
    !(/^\s*\d+\s*$/.test(sizeText) && maxMessageSize! > 0)
  ) {
    throw new UsageError(
      "--max-message-size wants a positive whole number of bytes",
    );
  }
  const hexBytes = (flag: "data-hex" | "filter-hex") => {
    const given = values[flag];
    return given === undefined ? undefined : fromHex(given, `--${flag}`);
  };
  const raw = { data: hexBytes("data-hex"), filter: hexBytes("filter-hex") };
  return {
    help: false as const,
    address,
    path,
    dataText,
    raw,
    timeout,
    maxMessageSize,
    values,
  };
}

type Parsed = Exclude<ReturnType<typeof parse>, { help: true }>;

/** The schema of --proto or --descriptor-set, if given. */
function fileSchema({ values }: Parsed): Promise<Schema> | undefined {
  if (values.proto !== undefined) {
    return compileProto(values.proto, values["import-path"]);
  }
  const set = values["descriptor-set"];
  return set === undefined ? undefined : readDescriptorSet(set);
}

/**
 * Bytes to send: --data-hex/--filter-hex as given; text of a typed path
 * as protobuf JSON of its type; of an untyped path, as UTF-8. A
 * subscription's filter is --filter-hex, --filter, or else the data.
 */
function payload(
  parsed: Parsed,
  info: PathInfo | undefined,
  schema: Schema | undefined,
): Uint8Array {
  const { values, dataText, raw } = parsed;
  const encode = (text: string, flag: string) =>
    info?.input
      ? encodeJson(info.input, text, flag, schema?.registry)
      : new TextEncoder().encode(text);
  if (values.subscribe) {
    if (raw.filter) return raw.filter;
    if (values.filter !== undefined) return encode(values.filter, "--filter");
  }
  if (raw.data) return raw.data;
  return dataText === undefined ? new Uint8Array(0) : encode(dataText, "DATA");
}

async function clientOptions(parsed: Parsed): Promise<ClientOptions> {
  const { values, timeout, maxMessageSize } = parsed;
  const options: ClientOptions = {
    timeout,
    maxMessageSize,
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
  return options;
}

/** --list or --describe: from the files, or the server's reflection. */
async function inspect(parsed: Parsed, out: Output): Promise<number> {
  let schema = await fileSchema(parsed);
  if (!schema) {
    await using client = await connect(
      parsed.address!,
      await clientOptions(parsed),
    );
    schema = await fetchSchema(client);
  }
  if (!schema) {
    throw new SchemaError(
      "The server has no reflection (/_nanorpc/reflection answered NOT_FOUND): give --proto FILE or --descriptor-set FILE",
    );
  }
  const describe = parsed.values.describe;
  if (describe === undefined) {
    for (const p of schema.paths) {
      const error = missingTypes(p);
      if (error) console.error(`warning: ${error.message}`);
    }
  }
  const lines = describe === undefined
    ? listLines(schema, out.json)
    : describeLines(schema, describe, out.json);
  for (const line of lines) console.log(line);
  return 0;
}

async function run(args: string[]): Promise<number> {
  const parsed = parse(args);
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const { values } = parsed;
  const out: Output = {
    hex: values.hex,
    json: values.json,
    emitDefaults: values["emit-defaults"],
  };
  if (values.list || values.describe !== undefined) {
    return await inspect(parsed, out);
  }
  const files = values.ping ? undefined : await fileSchema(parsed);
  const options = await clientOptions(parsed);
  await using first = await connect(parsed.address!, options);
  if (values.ping) {
    const ms = await first.ping();
    console.log(
      out.json
        ? JSON.stringify({ status: "OK", ms: Number(ms.toFixed(3)) })
        : `${ms.toFixed(3)} ms`,
    );
    return 0;
  }
  const schema = files ??
    await fetchSchema(first, [parsed.dataText, values.filter]);
  // A reflection answer over the size limit closed the connection; the
  // call itself needs no types, so it goes on another.
  await using again = first.state === "closed"
    ? await connect(parsed.address!, options)
    : undefined;
  const client = again ?? first;
  out.registry = schema?.registry;
  const path = parsed.path!;
  const kind = values.subscribe ? "topic" : "request";
  const info = typesForCall(pathInfo(schema, path, kind), [
    parsed.dataText,
    values.filter,
  ]);
  const data = payload(parsed, info, schema);
  if (values.subscribe) {
    return await subscribe(client, path, data, out, info);
  }
  const response = await client.request(path, data);
  const typed = print(
    out,
    response.data,
    info?.output,
    response.status,
    response.message,
  );
  return typed ? 0 : EXIT_OTHER;
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
  if (error instanceof DataError) {
    return fail(EXIT_USAGE, null, `error: ${message}`);
  }
  if (error instanceof UsageError) {
    return fail(EXIT_USAGE, null, `error: ${message}\n\n${USAGE}`);
  }
  if (error instanceof Deno.errors.NotCapable) {
    return fail(
      EXIT_CONNECTION,
      null,
      `error: ${message}\n(UNIX sockets need --allow-read and --allow-write; --proto needs --allow-run)`,
    );
  }
  if (error instanceof NanoRpcError && !(error instanceof ClientError)) {
    const name = statusName(error.status);
    return fail(EXIT_STATUS, name, `error: ${name}: ${message}`);
  }
  if (error instanceof ClientError) {
    // The reader names the client option; here it is a flag.
    const flag = error instanceof ProtocolError &&
        error.reason === MalformedReason.FRAME_TOO_LARGE
      ? "\n(the limit is --max-message-size BYTES)"
      : "";
    return fail(EXIT_CONNECTION, null, `error: ${message}${flag}`);
  }
  return fail(EXIT_OTHER, null, `error: ${message}`);
}

if (import.meta.main) {
  const json = Deno.args.includes("--json");
  const code = await run(Deno.args).catch((error) => report(error, json));
  Deno.exit(code);
}
