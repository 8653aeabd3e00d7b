/**
 * Reflection: the server describes itself at the reserved path
 * `/_nanorpc/reflection` with a `nanorpc_reflection.ReflectionResponse`
 * (`proto/nanorpc_reflection.proto`): the .proto files of every type it
 * knows, and its path table. On by default; `new Server({ reflection:
 * false })` leaves the path unregistered, so it is answered NOT_FOUND.
 *
 * @module
 */

import type {
  DescFile,
  DescMessage,
  DescMethod,
  DescService,
} from "@bufbuild/protobuf";
import type { FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import type {
  ReflectionPath,
  ReflectionResponse,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import { loadProtobuf, protobuf } from "../protocol/_protobuf.ts";
import { fnv1a } from "../wasm/wire.ts";
import { REFLECTION_PATH } from "../protocol/service.ts";
import type { Handler } from "./handler.ts";
import type { Logger } from "./logger.ts";
import type { Server } from "./server.ts";
import {
  registerService,
  type ServiceImpl,
  type ServiceOptions,
  type ServiceRegistration,
} from "./service.ts";
import type { TypedTopicOptions } from "./topic.ts";
import { type HandlerSchemas, typedHandler } from "./typed.ts";

export { REFLECTION_PATH };

/** The generated `nanorpc_reflection` module (its schemas). */
type Generated = typeof import("../proto/gen/nanorpc_reflection_pb.ts");

let generated: Promise<Generated> | undefined;

/**
 * Loads protobuf-es and the generated reflection module, on the first
 * reflection request: a server nobody asks never loads them.
 */
function loadGenerated(): Promise<Generated> {
  return generated ??= Promise.all([
    loadProtobuf(),
    import("../proto/gen/nanorpc_reflection_pb.ts"),
  ]).then(([, module]) => module);
}

/**
 * The files `files` need, each after the files it imports (depth first),
 * once each by file name, as one `FileDescriptorSet`: what protoc,
 * `buf` and Python's `DescriptorPool.Add` take in that order. Of two files
 * of one name that declare a name in common (one file, in two versions
 * or copies), the first is kept; two that declare nothing in common
 * (`chat.proto` of two packages) are both kept, the later one renamed
 * (`chat~2.proto`) and imported by that name.
 *
 * @param files protobuf-es file descriptors (`file_chat`, or `.file` of a
 * message or service descriptor).
 * @returns The set, dependencies included.
 *
 * @example
 * ```ts
 * import { fileDescriptorSet } from "@nanorpc/nanorpc/server";
 * import { Room } from "@nanorpc/nanorpc/proto/chat";
 *
 * const set = fileDescriptorSet([Room.file]);
 * console.log(set.file.map((f) => f.name).at(-1)); // "chat.proto"
 * ```
 */
export function fileDescriptorSet(
  files: Iterable<DescFile>,
): FileDescriptorSet {
  const names = new Map<DescFile, string>();
  const byName = new Map<string, DescFile>();
  const ordered: DescFile[] = [];
  const visit = (file: DescFile) => {
    if (names.has(file)) return;
    const name = setName(file, byName);
    names.set(file, name);
    if (byName.has(name)) return;
    byName.set(name, file);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of files) visit(file);
  // The message `create(FileDescriptorSetSchema, { file })` makes, built
  // without protobuf-es so that this works before it has been loaded.
  return {
    $typeName: "google.protobuf.FileDescriptorSet",
    file: ordered.map((file) => {
      const name = names.get(file)!;
      const dependency = file.dependencies.map((d) => names.get(d)!);
      const same = name === file.proto.name &&
        dependency.every((d, i) => d === file.proto.dependency[i]);
      return same ? file.proto : { ...file.proto, name, dependency };
    }),
  };
}

/**
 * The name `file` has in the set: its own; the name of a file there that
 * declares a name it declares too; or a free name made from its own.
 */
function setName(file: DescFile, byName: Map<string, DescFile>): string {
  const own = file.proto.name;
  const declared = declaredNames(file);
  const stem = own.replace(/\.proto$/, "");
  const extension = own.slice(stem.length);
  for (let n = 1;; n++) {
    const name = n === 1 ? own : `${stem}~${n}${extension}`;
    const there = byName.get(name);
    if (!there) return name;
    if (declaredNames(there).some((d) => declared.includes(d))) return name;
  }
}

/** The full names of a file's top-level messages, enums, services, extensions. */
function declaredNames({ proto }: DescFile): string[] {
  const prefix = proto.package ? `${proto.package}.` : "";
  return [
    ...proto.messageType,
    ...proto.enumType,
    ...proto.service,
    ...proto.extension,
  ].map((declaration) => prefix + declaration.name);
}

/** What is known about the data of one registered path. */
export interface PathTypes {
  /** Request data (a request) or filter (a topic). */
  input?: DescMessage;
  /** Response data (a request) or update (a topic). */
  output?: DescMessage;
  /** The service method served at the path. */
  method?: DescMethod;
}

interface Entry extends PathTypes {
  readonly path: string;
  readonly kind: "request" | "topic";
}

/**
 * Every path a server registered, with what it knows of their data types:
 * the source of the reflection answer, and the server's check that a
 * service's paths are all free before it registers any of them.
 *
 * @example
 * ```ts ignore
 * const catalog = new PathCatalog();
 * catalog.add("request", "/echo");
 * const module = await import("../proto/gen/nanorpc_reflection_pb.ts");
 * console.log(catalog.response(module).paths.length); // 1
 * ```
 */
export class PathCatalog {
  #entries = new Map<string, Entry>();
  #paths = new Map<number, string>();
  #response?: ReflectionResponse;
  #answer?: Handler;

  /**
   * Serves the reflection answer at {@link REFLECTION_PATH} on `server`.
   * The first request loads protobuf-es and the generated reflection
   * module, and records the path's own types.
   *
   * @param server The server this catalog describes.
   */
  serve(server: Server): void {
    server.handle(REFLECTION_PATH, (ctx) => {
      if (this.#answer) return this.#answer(ctx);
      return loadGenerated().then((module) => {
        this.#answer ??= this.#typedAnswer(module);
        return this.#answer(ctx);
      });
    });
  }

  /** The reflection handler, typed by the generated schemas. */
  #typedAnswer(module: Generated): Handler {
    const schemas = {
      input: module.ReflectionRequestSchema,
      output: module.ReflectionResponseSchema,
    };
    this.add("request", REFLECTION_PATH, schemas);
    return typedHandler(schemas, () => this.response(module));
  }

  /**
   * Serves `service` on `server` and records its methods: the body of
   * `server.service`.
   */
  register<S extends DescService>(
    server: Server,
    logger: Logger,
    service: S,
    impl: ServiceImpl<S>,
    options?: ServiceOptions,
  ): ServiceRegistration<S> {
    return registerService(server, this, logger, service, impl, options);
  }

  /**
   * Records a request handler: typed when `schemas` are schemas, untyped
   * when it is the handler itself.
   *
   * @param path The path.
   * @param schemas The typed handler's schemas, or the plain handler.
   */
  request(
    path: string,
    schemas: Partial<HandlerSchemas<DescMessage>> | Handler,
  ): void {
    this.add("request", path, typeof schemas === "function" ? {} : schemas);
  }

  /**
   * Records a topic: typed when `options` name its schemas.
   *
   * @param path The path.
   * @param options The options the topic was declared with.
   */
  topic(path: string, options: object): void {
    const typed = options as Partial<
      TypedTopicOptions<DescMessage, DescMessage>
    >;
    this.add("topic", path, {
      input: typed.filterSchema,
      output: typed.updateSchema,
    });
  }

  /**
   * Records (or re-records, with more types) a registered path.
   *
   * @param kind A request handler or a topic.
   * @param path The path.
   * @param types What is known of its data.
   */
  add(kind: "request" | "topic", path: string, types: PathTypes = {}): void {
    this.#entries.set(`${kind} ${path}`, { path, kind, ...types });
    this.#paths.set(fnv1a(path), path);
    this.#response = undefined;
  }

  /**
   * Why `path` cannot be registered as `kind`, or `undefined` when it can.
   *
   * @param kind A request handler or a topic.
   * @param path The path.
   * @returns A sentence naming the conflict, or `undefined`.
   */
  conflict(kind: "request" | "topic", path: string): string | undefined {
    if (this.#entries.has(`${kind} ${path}`)) {
      return `A ${
        kind === "request" ? "handler" : "topic"
      } is already registered at ${path}`;
    }
    const other = this.#paths.get(fnv1a(path));
    if (other !== undefined && other !== path) {
      return `Path ${path} has the same FNV-1a hash as the registered path ${other}: rename one of them`;
    }
    return undefined;
  }

  /**
   * The reflection answer: the path table sorted by path then kind, and
   * the files of every type and service in it. Cached until the next
   * {@link add}.
   *
   * @param module The generated reflection module (protobuf-es is loaded
   * with it).
   * @returns The `ReflectionResponse` message.
   */
  response(module: Generated): ReflectionResponse {
    if (this.#response) return this.#response;
    const entries = [...this.#entries.values()].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : 1
    );
    const files: DescFile[] = [];
    for (const entry of entries) {
      if (entry.method) files.push(entry.method.parent.file);
      if (entry.input) files.push(entry.input.file);
      if (entry.output) files.push(entry.output.file);
    }
    const { create } = protobuf()!;
    return this.#response = create(module.ReflectionResponseSchema, {
      files: fileDescriptorSet(files),
      paths: entries.map((entry) => reflectionPath(module, entry)),
    });
  }
}

function reflectionPath(module: Generated, entry: Entry): ReflectionPath {
  const { ReflectionPath_Kind, ReflectionPathSchema } = module;
  const { create } = protobuf()!;
  const request = entry.kind === "request";
  const input = entry.input?.typeName ?? "";
  const output = entry.output?.typeName ?? "";
  const method = entry.method;
  return create(ReflectionPathSchema, {
    path: entry.path,
    pathHash: fnv1a(entry.path),
    kind: request ? ReflectionPath_Kind.REQUEST : ReflectionPath_Kind.TOPIC,
    inputType: request ? input : "",
    outputType: request ? output : "",
    filterType: request ? "" : input,
    updateType: request ? "" : output,
    method: method ? `${method.parent.typeName}.${method.name}` : "",
  });
}
