/**
 * Test kit (private): whether tests that need a system binary
 * (`nats-server`, `socat`) should be skipped here. The rule is the one of
 * {@link ../testing/browser.ts}: outside CI a missing binary skips those
 * tests with a message naming the Debian package to install; in CI
 * (`CI=true`) they run and fail loudly, so a broken install never passes
 * as green.
 *
 * @module
 */

/** A binary some tests need. */
export interface NeededBinary {
  /** Its name on `PATH` (e.g. `nats-server`), or a path to it. */
  readonly command: string;
  /** The environment variable that may name another path for it. */
  readonly envVar: string;
  /** The Debian package that installs it. */
  readonly pkg: string;
  /** Which tests need it, for the message, e.g. "NATS cluster tests". */
  readonly tests: string;
}

/**
 * Where `command` is: itself when it holds a `/`, else the first
 * executable file of that name in a `PATH` folder.
 *
 * @param command A name or a path.
 * @returns The executable's path, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { findBinary } from "./_binary.ts";
 *
 * console.log(findBinary("sh")); // e.g. "/usr/bin/sh"
 * ```
 */
export function findBinary(command: string): string | undefined {
  if (command.includes("/")) {
    return executable(command) ? command : undefined;
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = `${dir || "."}/${command}`;
    if (executable(path)) return path;
  }
  return undefined;
}

/**
 * The command to run for `binary`: its environment variable when set,
 * else its name.
 *
 * @param binary The binary.
 * @returns A name or a path to spawn.
 *
 * @example
 * ```ts
 * import { binaryCommand } from "./_binary.ts";
 *
 * const socat = { command: "socat", envVar: "SOCAT", pkg: "socat", tests: "serial tests" };
 * console.log(binaryCommand(socat)); // "socat" unless SOCAT is set
 * ```
 */
export function binaryCommand(binary: NeededBinary): string {
  return Deno.env.get(binary.envVar) || binary.command;
}

/**
 * Why tests that need `binary` should be skipped here, or `undefined` to
 * run them: the binary is missing and this is not CI. In CI it always
 * returns `undefined`, so the tests run and fail with the kit's advice.
 * Prints the reason once per binary, since `Deno.test`'s `ignore` shows
 * none.
 *
 * @param binary The binary the tests need.
 * @returns The reason to skip, or `undefined`.
 *
 * @example
 * ```ts
 * import { binarySkipReason } from "./_binary.ts";
 *
 * const sh = { command: "sh", envVar: "SH", pkg: "dash", tests: "shell tests" };
 * console.log(binarySkipReason(sh)); // undefined: sh is installed
 * ```
 */
export function binarySkipReason(binary: NeededBinary): string | undefined {
  if (Deno.env.get("CI") === "true") return undefined;
  const command = binaryCommand(binary);
  if (findBinary(command) !== undefined) return undefined;
  const reason =
    `${command} is missing: install it with apt-get install ${binary.pkg} (or set ${binary.envVar} to its path)`;
  if (!warned.has(command)) {
    warned.add(command);
    console.warn(
      `Skipping ${binary.tests}: ${reason}; CI (CI=true) fails them instead`,
    );
  }
  return reason;
}

const warned = new Set<string>();

function executable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}
