// Where `deno task call` learns the types of a server's paths: the
// server's reflection answer, a binary FileDescriptorSet, or a .proto file
// compiled by the buf binary from the npm package.

import {
  createFileRegistry,
  type DescMessage,
  type FileRegistry,
  fromBinary,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorSet,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import {
  ReflectionPath_Kind,
  ReflectionRequestSchema,
  type ReflectionResponse,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import {
  methodPath,
  methodPathKind,
  REFLECTION_PATH,
} from "../protocol/service.ts";
import { fnv1a } from "../wasm/wire.ts";
import type { Client } from "./client.ts";
import { MalformedReason } from "../wasm/malformed.ts";
import { ClientError, NotFoundError, ProtocolError } from "./errors.ts";

/** One path and what is known of its data. */
export interface PathInfo {
  readonly path: string;
  readonly hash: number;
  readonly kind: "request" | "topic";
  /** Request data, or a topic's filter. */
  readonly input?: DescMessage;
  /** Response data, or a topic's updates. */
  readonly output?: DescMessage;
  /** The service method served there, e.g. `nanorpc_demo.Room.Send`. */
  readonly method?: string;
  /**
   * Types the server's reflection gives the path that none of its files
   * defines (`input` or `output` is then absent). Such a path is not
   * untyped: {@link missingTypes} says what is wrong with it.
   */
  readonly missing?: { readonly input?: string; readonly output?: string };
}

/** The types of a server's paths, and where they came from. */
export interface Schema {
  readonly registry: FileRegistry;
  /** Sorted by path, then kind. */
  readonly paths: readonly PathInfo[];
  /** "reflection", or the file the types were read from. */
  readonly source: string;
}

/** A schema source failed: the message says what to do. */
export class SchemaError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SchemaError";
  }
}

/** The entry of `path` for `kind`, if the schema has one. */
export function pathInfo(
  schema: Schema | undefined,
  path: string,
  kind: "request" | "topic",
): PathInfo | undefined {
  return schema?.paths.find((p) => p.path === path && p.kind === kind);
}

function registryOf(set: FileDescriptorSet, from: string): FileRegistry {
  try {
    return createFileRegistry(set);
  } catch (cause) {
    throw new SchemaError(
      `The files from ${from} do not form a complete set (${
        (cause as Error).message
      }): every imported file must be included (protoc --include_imports, or buf build)`,
      { cause },
    );
  }
}

function sorted(paths: PathInfo[]): PathInfo[] {
  return paths.sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : 1
  );
}

/**
 * The schema in a server's reflection answer. A type its files lack
 * affects only the paths given it: they record it in `missing`.
 */
export function reflectedSchema(response: ReflectionResponse): Schema {
  const registry = registryOf(
    response.files ??
      { $typeName: "google.protobuf.FileDescriptorSet", file: [] },
    "the server's reflection",
  );
  const paths = response.paths.map((p): PathInfo => {
    const topic = p.kind === ReflectionPath_Kind.TOPIC;
    const names = {
      input: topic ? p.filterType : p.inputType,
      output: topic ? p.updateType : p.outputType,
    };
    const input = names.input ? registry.getMessage(names.input) : undefined;
    const output = names.output ? registry.getMessage(names.output) : undefined;
    const missing = {
      ...(names.input && !input ? { input: names.input } : {}),
      ...(names.output && !output ? { output: names.output } : {}),
    };
    return {
      path: p.path,
      hash: p.pathHash,
      kind: topic ? "topic" : "request",
      input,
      output,
      method: p.method || undefined,
      ...(missing.input || missing.output ? { missing } : {}),
    };
  });
  return { registry, paths: sorted(paths), source: "reflection" };
}

/**
 * What is wrong with `info` when the server's reflection gives it a type
 * none of its files defines; `undefined` when nothing is.
 *
 * @param info A path of a schema.
 * @returns The error to report, naming the path and the missing types.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { missingTypes } from "./_cli_schema.ts";
 *
 * const error = missingTypes({
 *   path: "/room/send",
 *   hash: 0x4abcb534,
 *   kind: "request",
 *   missing: { input: "other.Message" },
 * });
 * assert.match(error!.message, /gives \/room\/send the type other\.Message/);
 * ```
 */
export function missingTypes(info: PathInfo): SchemaError | undefined {
  const { input, output } = info.missing ?? {};
  const names = [...new Set([input, output])].filter((n) => n !== undefined);
  if (names.length === 0) return undefined;
  const types = names.length === 1
    ? `the type ${names[0]}, which none of its files defines`
    : `the types ${names.join(" and ")}, which none of its files define`;
  return new SchemaError(
    `The server's reflection gives ${info.path} ${types}: give --proto FILE or --descriptor-set FILE`,
  );
}

/**
 * `info` (a call's path, from {@link pathInfo}) as the call types its data
 * by. A path whose types the reflection files lack is not untyped (JSON
 * would go out as text): with a JSON object among `texts` (DATA and
 * --filter) it throws; otherwise a warning says so and the call goes on
 * untyped (`undefined`).
 *
 * @throws {SchemaError} When the path lacks a type and JSON is given.
 *
 * @example
 * ```ts ignore
 * const info = typesForCall(pathInfo(schema, "/echo", "request"), ["hi"]);
 * ```
 */
export function typesForCall(
  info: PathInfo | undefined,
  texts: readonly (string | undefined)[],
): PathInfo | undefined {
  const error = info && missingTypes(info);
  if (!error) return info;
  untypedOrThrow(error, texts);
  return undefined;
}

/**
 * Throws `error` unless `texts` are given and none is a JSON object: then
 * warns that the call goes on untyped (raw bytes or text need no types).
 */
function untypedOrThrow(
  error: Error,
  texts: readonly (string | undefined)[] | undefined,
): void {
  if (texts === undefined || texts.some(isJsonObject)) throw error;
  console.error(
    `warning: ${error.message}; sending and printing the data untyped (--proto FILE or --descriptor-set FILE give its types)`,
  );
}

/**
 * Asks the server to describe itself; `undefined` when it answers
 * NOT_FOUND (reflection off, or a server that has none). An answer that is
 * not a usable schema, or is over the client's `maxMessageSize` (which
 * closes the connection), throws, unless `texts` (a call's DATA and
 * --filter) are given and none is a JSON object: then a warning says so
 * and the call goes on untyped (raw bytes or text need no types; JSON
 * does).
 */
export async function fetchSchema(
  client: Client,
  texts?: readonly (string | undefined)[],
): Promise<Schema | undefined> {
  try {
    const response = await client.call(REFLECTION_PATH, {}, {
      input: ReflectionRequestSchema,
      output: ReflectionResponseSchema,
    });
    return reflectedSchema(response);
  } catch (caught) {
    if (caught instanceof NotFoundError) return undefined;
    const error = tooLarge(caught) ??
      (caught instanceof SchemaError ? caught : undefined);
    if (!error) throw caught;
    untypedOrThrow(error, texts);
    return undefined;
  }
}

/**
 * The schema of the services in `set`: every unary and server-streaming
 * method at its `(nanorpc).request_path` (or default path).
 */
export function fileSchema(set: FileDescriptorSet, from: string): Schema {
  const registry = registryOf(set, from);
  const paths: PathInfo[] = [];
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        if (
          method.methodKind !== "unary" &&
          method.methodKind !== "server_streaming"
        ) {
          continue;
        }
        let path: string;
        try {
          path = methodPath(method);
        } catch (cause) {
          throw new SchemaError((cause as Error).message, { cause });
        }
        paths.push({
          path,
          hash: fnv1a(path),
          kind: methodPathKind(method) as "request" | "topic",
          input: method.input,
          output: method.output,
          method: `${service.typeName}.${method.name}`,
        });
      }
    }
  }
  return { registry, paths: sorted(paths), source: from };
}

/** Reads a binary FileDescriptorSet (a buf image is one too). */
export async function readDescriptorSet(file: string): Promise<Schema> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
    throw new SchemaError(
      `Cannot read --descriptor-set ${file}: ${(cause as Error).message}`,
      { cause },
    );
  }
  let set: FileDescriptorSet;
  try {
    set = fromBinary(FileDescriptorSetSchema, bytes);
  } catch (cause) {
    throw new SchemaError(
      `${file} is not a binary FileDescriptorSet (${
        (cause as Error).message
      }); make one with \`buf build -o ${file}\` or \`protoc --include_imports -o ${file}\``,
      { cause },
    );
  }
  return fileSchema(set, file);
}

/**
 * `error` said of the reflection answer, when it is a frame over the
 * client's size limit (the reader's message blames no path); otherwise
 * `undefined`.
 */
function tooLarge(error: unknown): ClientError | undefined {
  if (
    !(error instanceof ProtocolError) ||
    error.reason !== MalformedReason.FRAME_TOO_LARGE
  ) return undefined;
  return new ClientError(
    `The server's reflection answer (${REFLECTION_PATH}) is over this client's size limit: give --max-message-size BYTES as large as the server's`,
    { cause: error },
  );
}

function isJsonObject(text: string | undefined): boolean {
  if (text === undefined || !text.trimStart().startsWith("{")) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
