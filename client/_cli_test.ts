/**
 * Runs the command-line client (`deno task call`, client/main.ts) as a
 * process, for the CLI tests. Named `_test.ts` so it is never published;
 * it holds no tests.
 *
 * @module
 */

/** Path of the command-line client's entry point. */
export const MAIN: string = new URL("./main.ts", import.meta.url).pathname;

/** Runs `deno task call ...args` to the end; its exit code and output. */
export async function call(...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: output.code,
    stdout: dec.decode(output.stdout),
    stderr: dec.decode(output.stderr),
  };
}

/** Collects a stream's lines as they come. */
export class Lines {
  readonly lines: string[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
      if (rest) this.lines.push(rest);
    })();
  }

  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line));
  }
}

/** Starts `deno task call ...args` and collects its output lines. */
export function spawnCall(...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Lines(child.stderr);
  return {
    child,
    stdout,
    stderr,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGINT");
      } catch {
        // Already exited.
      }
      await child.status;
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}
