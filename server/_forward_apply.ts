// What a remote handler did to a session of this node (sent as ops after
// its answer, or carried in it), done to the session here.

import type { ServerCore } from "./_core.ts";
import { GroupImpl } from "./_group.ts";
import type { ServerSession } from "./_session.ts";
import type { SessionOp } from "./forward.ts";

/** Does `op` to `session`; throws what the session's method throws. */
export function applyOp(
  core: ServerCore,
  session: ServerSession,
  op: SessionOp,
) {
  switch (op.op) {
    case "set":
      return session.set(op.key, op.value);
    case "delete":
      return void session.delete(op.key);
    case "bind":
      return session.bind(op.uid);
    case "unbind":
      return session.unbind();
    case "push":
      return void session.pushOwned(op.path, op.data);
    case "update":
      return void session.sendUpdate(op.id, op.data);
    case "join": {
      let group = core.groups.get(op.group);
      if (!group) {
        core.groups.set(op.group, group = new GroupImpl(core, op.group));
      }
      return group.add(session);
    }
    case "leave":
      return void core.groups.get(op.group)?.remove(session);
    case "broadcast":
      // Members only, as from the broker: the call may have removed it.
      if (core.groups.get(op.group)?.has(session)) {
        session.pushOwned(op.path, op.data);
      }
      return;
    case "close":
      return void session.close(op.reason);
  }
}
