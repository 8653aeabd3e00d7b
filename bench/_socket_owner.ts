// Which local process listens on a TCP port or a UNIX socket path, from
// /proc: the listening sockets' inodes (/proc/net/tcp, tcp6, unix), then
// the process holding one of them open (/proc/PID/fd). Only processes of
// this user can be seen. Internal to bench/.

/** What {@link listenerPid} found. */
export interface Owner {
  /** The one process listening there, if exactly one was found. */
  pid?: number;
  /** Why there is no pid, or where it came from: for the log. */
  note: string;
}

/** An address as the load benchmark takes it. */
export type ListenAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

const TCP_LISTEN = "0A";
const UNIX_ACCEPTING = 0x10000;

/**
 * The process that owns the listening socket at `address`. TCP addresses
 * are only looked up when the host is this machine's loopback.
 */
export function listenerPid(address: ListenAddress): Owner {
  if (address.transport === "tcp" && !isLoopback(address.hostname)) {
    return { note: `${address.hostname} is not loopback` };
  }
  let inodes: Set<string>;
  try {
    inodes = address.transport === "tcp"
      ? tcpListeners(address.port)
      : unixListeners(address.path);
  } catch {
    return { note: "no /proc/net here" };
  }
  if (inodes.size === 0) return { note: "no listening socket found there" };
  const pids = socketHolders(inodes);
  if (pids.length === 1) {
    return { pid: pids[0], note: "the process that owns the listening socket" };
  }
  return pids.length === 0
    ? { note: "the listening socket belongs to no process of this user" }
    : { note: `processes ${pids.join(", ")} all hold the listening socket` };
}

/** Whether `hostname` names this machine's loopback interface. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function tcpListeners(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
      const local = f[1];
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port) {
        inodes.add(f[9]);
      }
    }
  }
  return inodes;
}

function unixListeners(path: string): Set<string> {
  const inodes = new Set<string>();
  const text = Deno.readTextFileSync("/proc/net/unix");
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f.slice(7).join(" ") !== path) continue;
    if (parseInt(f[3], 16) & UNIX_ACCEPTING) inodes.add(f[6]);
  }
  return inodes;
}

/** Processes (other than this one) holding any of `inodes` open. */
function socketHolders(inodes: Set<string>): number[] {
  const links = new Set([...inodes].map((i) => `socket:[${i}]`));
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    try {
      for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
        if (links.has(Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`))) {
          pids.push(pid);
          break;
        }
      }
    } catch {
      // Another user's process, or one that just exited.
    }
  }
  return pids;
}
