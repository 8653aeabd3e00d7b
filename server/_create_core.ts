// Building the state a server shares with its sessions, groups and topics
// from the options, with every default in one place.

import { codec } from "../wasm/codec.ts";
import { DEFAULT_MAX_SESSIONS } from "./_admission.ts";
import { InProcessBroker } from "./broker.ts";
import {
  errorMessage,
  type InternalServerOptions,
  type ServerCore,
} from "./_core.ts";
import { leveledLogger, type Logger } from "./logger.ts";
import { Ops } from "./_ops.ts";
import type { ServerOptions } from "./options.ts";
import { Router } from "./_router.ts";
import type { ServerSession } from "./_session.ts";
import { newStats } from "./stats.ts";

/** The core for `options`; `closed` runs once per ended session. */
export function createCore(
  options: ServerOptions,
  closed: (session: ServerSession, reason: string) => void,
): ServerCore {
  const core: ServerCore = {
    nodeId: crypto.randomUUID(),
    codec: (options as InternalServerOptions).codec ?? codec,
    router: new Router(),
    middleware: [],
    limits: {
      maxMessageSize: options.maxMessageSize ?? 1024 * 1024,
      outgoingBufferSize: options.outgoingBufferSize ?? 4 * 1024 * 1024,
      maxSubscriptionsPerSession: options.maxSubscriptionsPerSession ?? 1024,
      maxFilterSize: options.maxFilterSize ?? 4096,
      handlerTimeout: options.handlerTimeout ?? 30_000,
    },
    logger: leveledLogger(options.logLevel ?? "warn", options.logger),
    broker: options.broker ?? new InProcessBroker(),
    stats: newStats(),
    sessions: new Map(),
    uids: new Map(),
    groups: new Map(),
    ops: new Ops(options, options.maxSessions ?? DEFAULT_MAX_SESSIONS),
    sessionClosed: (session, reason) => {
      if (!core.sessions.delete(session.id)) return;
      core.stats.sessions--;
      core.logger.debug(`session ${session.id} closed: ${reason}`);
      closed(session, reason);
    },
  };
  return core;
}

/** Disposes every handle; one that throws is logged and the rest go on. */
export function disposeAll(
  handles: Disposable[],
  what: string,
  logger: Logger,
): void {
  for (const handle of handles.splice(0)) {
    try {
      handle[Symbol.dispose]();
    } catch (err) {
      logger.error(`releasing ${what} failed: ${errorMessage(err)}`);
    }
  }
}
