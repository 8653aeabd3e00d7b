/**
 * SIGHUP from a serial device that became the process's controlling
 * terminal.
 *
 * A process that leads its session (a service, a container's first
 * process) and has no terminal makes the first terminal device it opens
 * its controlling terminal; Deno.open cannot ask for O_NOCTTY. An unplug
 * would then end that process with SIGHUP instead of failing the line's
 * read. Only then is SIGHUP ignored, while such a line is open and
 * {@link HANGUP_GRACE_MS} after the last one closed. Any other process
 * keeps SIGHUP's usual meaning.
 *
 * @module
 */

/** How long SIGHUP stays ignored after the last such line closed. */
export const HANGUP_GRACE_MS = 5000;

let openLines = 0;
let listening = false;
let stopIgnoring: ReturnType<typeof setTimeout> | undefined;
const ignore = () => {};

/**
 * Called once a device at `path` is open: ignores SIGHUP if the device is
 * (or, where that cannot be read, may be) this process's controlling
 * terminal. Returns what ends that, to call when the line closes; it is
 * safe to call more than once.
 */
export function guardHangups(path: string): () => void {
  if (Deno.build.os === "windows" || !controlsProcess(path)) return () => {};
  let open = true;
  adjust(1);
  return () => {
    if (!open) return;
    open = false;
    adjust(-1);
  };
}

function adjust(delta: 1 | -1): void {
  openLines += delta;
  clearTimeout(stopIgnoring);
  try {
    if (openLines > 0 && !listening) {
      Deno.addSignalListener("SIGHUP", ignore);
      listening = true;
    } else if (openLines === 0 && listening) {
      // The kernel wakes the reader before it signals the hangup: the
      // signal may come after the failed read and the close that followed.
      stopIgnoring = setTimeout(() => {
        listening = false;
        Deno.removeSignalListener("SIGHUP", ignore);
      }, HANGUP_GRACE_MS);
      Deno.unrefTimer(stopIgnoring as unknown as number);
    }
  } catch {
    // Signals are not available: nothing to guard against.
  }
}

/**
 * Whether the device at `path` is this process's controlling terminal:
 * Linux's /proc/self/stat names it (tty_nr, the same number as the
 * device's rdev for every terminal). Elsewhere, or if either cannot be
 * read, it may be.
 */
function controlsProcess(path: string): boolean {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // The fields after the command name, which may hold spaces and ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const terminal = Number(fields[4]);
    const device = Deno.statSync(path).rdev;
    if (!Number.isInteger(terminal) || device === null) return true;
    return terminal !== 0 && terminal === device;
  } catch {
    return true;
  }
}
