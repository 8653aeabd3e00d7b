/**
 * Components, nano style: an object whose public methods become handlers
 * at `/<name>/<method>`, with lifecycle hooks the server runs in order.
 *
 * @module
 */

import type { DescMessage } from "@bufbuild/protobuf";
import type { HandleOptions, Handler } from "./handler.ts";
import { typedHandler } from "./typed.ts";

/**
 * Lifecycle hooks a component may define. `init` then `afterInit` run (for
 * all components, in registration order) before the first listener
 * accepts; `beforeShutdown` runs when shutdown starts, `shutdown` once
 * every session has closed.
 */
export interface ComponentHooks {
  /** Prepare state; runs before any component's `afterInit`. */
  init?(): void | Promise<void>;
  /** Runs after every component's `init`. */
  afterInit?(): void | Promise<void>;
  /** Runs when shutdown begins, before sessions are closed. */
  beforeShutdown?(): void | Promise<void>;
  /** Runs after every session has closed. */
  shutdown?(): void | Promise<void>;
}

/** How a component is registered. */
export interface ComponentOptions {
  /**
   * Path segment of the component. Default: the class name with a trailing
   * `Component` removed and the first letter lowercased
   * (`RoomComponent` -> `room`).
   */
  name?: string;
  /** Maps a method name to its path segment. Default: unchanged. */
  nameFunc?: (method: string) => string;
  /**
   * Protobuf schemas for methods that take (and return) messages: such a
   * method is called as `method(input, ctx)`.
   */
  schemas?: Record<string, { input: DescMessage; output?: DescMessage }>;
  /** Options applied to every handler of the component. */
  handle?: HandleOptions;
}

const HOOKS = new Set([
  "constructor",
  "init",
  "afterInit",
  "beforeShutdown",
  "shutdown",
]);

/** The default component name for `component`. */
export function componentName(component: object): string {
  const name = component.constructor?.name ?? "";
  const base = name.endsWith("Component") && name.length > 9
    ? name.slice(0, -9)
    : name;
  if (!base || base === "Object") {
    throw new Error("Anonymous component: pass { name } to register()");
  }
  return base[0].toLowerCase() + base.slice(1);
}

/**
 * The handlers of `component`: every method on its prototype chain (or own
 * function property) except the lifecycle hooks and names starting with
 * `_`, keyed by path.
 */
export function componentHandlers(
  component: object,
  options: ComponentOptions = {},
): Map<string, Handler> {
  const name = options.name ?? componentName(component);
  const rename = options.nameFunc ?? ((m: string) => m);
  const handlers = new Map<string, Handler>();
  const seen = new Set<string>();
  for (
    let proto: object | null = component;
    proto && !isBuiltIn(proto);
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (seen.has(key) || HOOKS.has(key) || key.startsWith("_")) continue;
      seen.add(key);
      // Accessors are no handlers, and reading one may need init() first.
      const value = Object.getOwnPropertyDescriptor(proto, key)?.value;
      if (typeof value !== "function") continue;
      const method = value.bind(component);
      const schemas = options.schemas?.[key];
      const path = `/${name}/${rename(key)}`;
      if (handlers.has(path)) {
        throw new Error(
          `Two methods of component ${name} map to ${path} (nameFunc gives "${key}" the name of another): rename one or change nameFunc`,
        );
      }
      handlers.set(
        path,
        schemas ? typedHandler(schemas, method) : method as Handler,
      );
    }
  }
  return handlers;
}

/** Whether `proto` is the prototype of a global built-in (Object, EventTarget ...). */
function isBuiltIn(proto: object): boolean {
  const ctor =
    (proto as { constructor?: { name?: string; prototype?: unknown } })
      .constructor;
  return typeof ctor === "function" && proto === ctor.prototype &&
    (globalThis as Record<string, unknown>)[ctor.name ?? ""] === ctor;
}
