/**
 * The protocol vocabulary shared by server and client: statuses, request
 * and response types, FNV-1a path hashes, and the status errors.
 *
 * @example
 * ```ts
 * import { fnv1a, NotFoundError, Status } from "@nanorpc/nanorpc/protocol";
 *
 * console.log(fnv1a("/echo").toString(16));
 * console.log(new NotFoundError().status === Status.NOT_FOUND); // true
 * ```
 *
 * @module
 */

export {
  fnv1a,
  RequestType,
  ResponseType,
  Status,
  statusName,
} from "../wasm/wire.ts";
export {
  methodPath,
  type MethodPathKind,
  methodPathKind,
  REFLECTION_PATH,
} from "./service.ts";
export {
  errorFromStatus,
  InternalError,
  NanoRpcError,
  type NanoRpcErrorOptions,
  NotAuthorizedError,
  NotFoundError,
} from "./errors.ts";
