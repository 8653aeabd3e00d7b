// A server process's resident memory, from /proc: now (VmRSS) and the peak
// over a measuring window (the kernel's VmHWM, reset at the window's start,
// together with samples of VmRSS in case the reset is not allowed).
// Internal to bench/.

/** `VmRSS` of process `pid` in bytes, or NaN when it cannot be read. */
export function rssBytes(pid: number | undefined): number {
  return statusBytes(pid, "VmRSS");
}

/**
 * `VmHWM` (the kernel's peak resident set) of process `pid` in bytes, or
 * NaN when it cannot be read.
 */
export function peakRssBytes(pid: number | undefined): number {
  return statusBytes(pid, "VmHWM");
}

/**
 * Resets the kernel's peak-RSS counter of `pid` to its current RSS (writes
 * 5 to /proc/PID/clear_refs, Linux ≥ 4.0). False when that is not allowed
 * (another user's process, not Linux).
 */
export function resetPeakRss(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Watches the peak RSS of `pid` from now until {@link RssWindow.end}:
 * resets the kernel's counter and also samples VmRSS every `intervalMs`,
 * so the peak is exact where the reset works and close where it does not.
 */
export class RssWindow {
  readonly #pid: number | undefined;
  readonly #reset: boolean;
  #peak: number;
  #timer?: ReturnType<typeof setInterval>;

  constructor(pid: number | undefined, intervalMs = 50) {
    this.#pid = pid;
    this.#reset = resetPeakRss(pid);
    this.#peak = rssBytes(pid);
    if (pid !== undefined && !Number.isNaN(this.#peak)) {
      this.#timer = setInterval(() => this.#sample(), intervalMs);
    }
  }

  #sample(): void {
    const rss = rssBytes(this.#pid);
    if (rss > this.#peak) this.#peak = rss;
  }

  /** Stops sampling; the peak RSS in bytes over the window, or NaN. */
  end(): number {
    clearInterval(this.#timer);
    this.#sample();
    const hwm = this.#reset ? peakRssBytes(this.#pid) : NaN;
    return hwm > this.#peak ? hwm : this.#peak;
  }
}

function statusBytes(pid: number | undefined, field: string): number {
  if (pid === undefined) return NaN;
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kib = status.match(new RegExp(`^${field}:\\s*(\\d+) kB$`, "m"));
    return kib ? Number(kib[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}
