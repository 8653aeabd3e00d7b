/**
 * Reflection: the server describes itself at the reserved path
 * `/_nanorpc/reflection` with a `nanorpc_reflection.ReflectionResponse`
 * (`proto/nanorpc_reflection.proto`): the .proto files of every type it
 * knows, and its path table. On by default; `new Server({ reflection:
 * false })` leaves the path unregistered, so it is answered NOT_FOUND.
 *
 * @module
 */

import {
  create,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorSet,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import {
  type ReflectionPath,
  ReflectionPath_Kind,
  ReflectionPathSchema,
  ReflectionRequestSchema,
  type ReflectionResponse,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import { fnv1a } from "../wasm/wire.ts";
import { REFLECTION_PATH } from "../protocol/service.ts";
import type { Handler } from "./handler.ts";
import type { Server } from "./server.ts";
import {
  registerService,
  type ServiceImpl,
  type ServiceOptions,
  type ServiceRegistration,
} from "./service.ts";
import type { TypedTopicOptions } from "./topic.ts";
import type { HandlerSchemas } from "./typed.ts";

export { REFLECTION_PATH };

/**
 * The files `files` need, each after the files it imports (depth first),
 * once each by file name, as one `FileDescriptorSet`: what protoc,
 * `buf` and Python's `DescriptorPool.Add` take in that order.
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
  const seen = new Set<string>();
  const ordered: DescFile[] = [];
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of files) visit(file);
  return create(FileDescriptorSetSchema, {
    file: ordered.map((file) => file.proto),
  });
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
 * console.log(catalog.response().paths.length); // 1
 * ```
 */
export class PathCatalog {
  #entries = new Map<string, Entry>();
  #paths = new Map<number, string>();
  #response?: ReflectionResponse;

  /**
   * Serves the reflection answer at {@link REFLECTION_PATH} on `server`.
   *
   * @param server The server this catalog describes.
   */
  serve(server: Server): void {
    server.handle(REFLECTION_PATH, {
      input: ReflectionRequestSchema,
      output: ReflectionResponseSchema,
    }, () => this.response());
  }

  /**
   * Serves `service` on `server` and records its methods: the body of
   * `server.service`.
   */
  register<S extends DescService>(
    server: Server,
    service: S,
    impl: ServiceImpl<S>,
    options?: ServiceOptions,
  ): ServiceRegistration<S> {
    return registerService(server, this, service, impl, options);
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
   * @returns The `ReflectionResponse` message.
   */
  response(): ReflectionResponse {
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
    return this.#response = create(ReflectionResponseSchema, {
      files: fileDescriptorSet(files),
      paths: entries.map(reflectionPath),
    });
  }
}

function reflectionPath(entry: Entry): ReflectionPath {
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
