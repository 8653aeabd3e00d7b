// protobuf-es (npm:@bufbuild/protobuf), loaded the first time a feature
// needs it: a typed handler or topic, a service, the reflection answer; on
// the client a typed call or subscription, a service client. A server of
// plain handlers and topics, or a client that sends bytes, never loads it
// (its main entry costs about 15 MiB of RSS). Registration starts the load;
// `server.listen()` and `server.serve()` wait for it (`protobufLoading`),
// so sessions never see it missing; typed client calls await it.

import type {
  DescMessage,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";

/** The protobuf-es functions the library uses (`create`, `fromBinary`, `toBinary`). */
export type Protobuf = typeof import("./_protobuf_api.ts");

let loaded: Protobuf | undefined;
let loading: Promise<Protobuf> | undefined;

/** protobuf-es when it has loaded, else `undefined`. */
export function protobuf(): Protobuf | undefined {
  return loaded;
}

/**
 * Loads protobuf-es once; later calls share the load.
 *
 * @returns The loaded module.
 * @throws {Error} (as a rejection) When the package cannot be loaded.
 */
export function loadProtobuf(): Promise<Protobuf> {
  if (loading) return loading;
  loading = import("./_protobuf_api.ts").then(
    (module) => loaded = module,
    (cause) => {
      throw new Error(
        `Cannot load npm:@bufbuild/protobuf, which typed handlers, topics, calls and subscriptions, services and reflection need (${
          cause instanceof Error ? cause.message : String(cause)
        }): add it to your dependencies (deno add npm:@bufbuild/protobuf)`,
        { cause },
      );
    },
  );
  // A registration starts the load and may never await it: a failure is
  // reported where it is awaited (listen, serve, a request), not as an
  // unhandled rejection.
  loading.catch(() => {});
  return loading;
}

/**
 * The load in progress (or failed), if one is; `undefined` once loaded or
 * when nothing needed it yet.
 */
export function protobufLoading(): Promise<Protobuf> | undefined {
  return loaded ? undefined : loading;
}

/**
 * `init` (a message or its init object) as a message of `schema`.
 * `create` alone would turn a message of another type into an empty
 * message of `schema`, silently: only a cast gets one past the types, but
 * a service built at run time (from reflection, a descriptor set) has none.
 *
 * @throws {TypeError} When `init` is a message of another type.
 */
export function createMessage<T extends DescMessage>(
  pb: Protobuf,
  schema: T,
  init: MessageInitShape<T>,
): MessageShape<T> {
  const typeName = (init as { $typeName?: unknown }).$typeName;
  if (typeof typeName === "string" && typeName !== schema.typeName) {
    throw new TypeError(
      `Got a ${typeName} where a ${schema.typeName} is expected`,
    );
  }
  return pb.create(schema, init);
}
