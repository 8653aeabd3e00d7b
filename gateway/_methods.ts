// Which service methods the gateway serves: the ones it was given, or the
// ones the server's reflection lists (every method registered with
// `server.service`).

import {
  create,
  createFileRegistry,
  type DescMethod,
  type DescService,
  fromBinary,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import {
  ReflectionPath_Kind,
  ReflectionRequestSchema,
  ReflectionResponseSchema,
} from "../proto/gen/nanorpc_reflection_pb.ts";
import {
  methodPath,
  methodPathKind,
  REFLECTION_PATH,
} from "../protocol/service.ts";

/**
 * A method the gateway serves, and where it is served over NanoRPC.
 *
 * @example
 * ```ts ignore
 * for (const m of await gateway.methods()) {
 *   console.log(`/${m.method.parent.typeName}/${m.method.name} -> ${m.path}`);
 * }
 * ```
 */
export interface GatewayMethod {
  /** The method (input and output schemas, name, service). */
  readonly method: DescMethod;
  /** Its NanoRPC path, e.g. `"/room/send"`. */
  readonly path: string;
  /** A request handler (unary) or a topic (server streaming). */
  readonly kind: "request" | "topic";
}

/** The methods of `services`, at the paths `server.service` serves them. */
export function methodsOf(services: readonly DescService[]): GatewayMethod[] {
  return services.flatMap((service) =>
    service.methods
      .filter((m) =>
        m.methodKind === "unary" || m.methodKind === "server_streaming"
      )
      .map((method) => ({
        method,
        path: methodPath(method),
        kind: methodPathKind(method),
      }))
  );
}

/**
 * The methods the server's reflection lists, with a registry of every type
 * its files define (for `google.protobuf.Any` in JSON).
 *
 * @param request Makes a NanoRPC request through the server.
 */
export async function reflectedMethods(
  request: (path: string, data: Uint8Array) => Promise<Uint8Array>,
): Promise<{ methods: GatewayMethod[]; registry: Registry }> {
  const data = await request(
    REFLECTION_PATH,
    toBinary(ReflectionRequestSchema, create(ReflectionRequestSchema)),
  );
  const answer = fromBinary(ReflectionResponseSchema, data);
  if (!answer.files) return { methods: [], registry: createFileRegistry() };
  const registry = createFileRegistry(answer.files);
  const methods: GatewayMethod[] = [];
  for (const entry of answer.paths) {
    const dot = entry.method.lastIndexOf(".");
    if (dot < 0) continue;
    const service = registry.getService(entry.method.slice(0, dot));
    const method = service?.methods.find((m) =>
      m.name === entry.method.slice(dot + 1)
    );
    if (!method) continue;
    methods.push({
      method,
      path: entry.path,
      kind: entry.kind === ReflectionPath_Kind.TOPIC ? "topic" : "request",
    });
  }
  return { methods, registry };
}
