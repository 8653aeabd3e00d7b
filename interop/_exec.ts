/**
 * Small process and file helpers shared by the interop runner.
 *
 * @module
 */

/** The repository root (the folder above `interop/`). */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What a finished command left behind. */
export interface ExecResult {
  ok: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode exec}. */
export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
}

/**
 * Runs a command to completion and captures its output. A missing program
 * or a timeout is reported as a failed result, never thrown.
 */
export async function exec(
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const [program, ...args] = cmd;
  const signal = options.timeoutMs === undefined
    ? undefined
    : AbortSignal.timeout(options.timeoutMs);
  try {
    const out = await new Deno.Command(program, {
      args,
      cwd: options.cwd ?? ROOT,
      env: options.env,
      stdin: "null",
      signal,
    }).output();
    const text = new TextDecoder();
    return {
      ok: out.success,
      code: out.code,
      stdout: text.decode(out.stdout),
      stderr: text.decode(out.stderr) +
        (signal?.aborted ? `\n(killed after ${options.timeoutMs} ms)` : ""),
    };
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? `${program} is not installed`
      : String(err);
    return { ok: false, code: 127, stdout: "", stderr: why };
  }
}

/** Throws with the command's output when it failed; returns it otherwise. */
export async function mustExec(
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const result = await exec(cmd, options);
  if (!result.ok) {
    const output = (result.stderr || result.stdout).trim().split("\n");
    throw new Error(
      `${cmd.slice(0, 3).join(" ")} … failed (${result.code}):\n  ` +
        output.slice(-15).join("\n  "),
    );
  }
  return result;
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** SHA-256 (hex) over the given files' contents and extra strings. */
export async function fingerprint(
  files: string[],
  extra: string[] = [],
): Promise<string> {
  const parts: Uint8Array[] = [];
  const text = new TextEncoder();
  for (const file of files) {
    parts.push(text.encode(`\0${file}\0`), await Deno.readFile(file));
  }
  for (const item of extra) parts.push(text.encode(`\0${item}`));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  const digest = await crypto.subtle.digest("SHA-256", all);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Runs `make` only when the stamp file does not hold `key`, then writes it. */
export async function cached(
  stamp: string,
  key: string,
  make: () => Promise<void>,
): Promise<boolean> {
  try {
    if ((await Deno.readTextFile(stamp)) === key) return true;
  } catch {
    // no stamp yet: build
  }
  await make();
  await Deno.writeTextFile(stamp, key);
  return false;
}
