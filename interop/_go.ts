/**
 * Probe for the Go reference implementation. The interop suite must not use
 * a copy of it, only the module from the Go module proxy; while the proxy
 * refuses it, the Go peers are reported as skipped with the proxy's answer.
 *
 * @module
 */

import { exec } from "./_exec.ts";

/** The reference package the Go peers would import. */
export const GO_REFERENCE = "protomcp.org/nanorpc/pkg/nanorpc";

/** One line saying why the Go peers did not run (never a pass or a fail). */
export async function probeGoReference(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "nanorpc-go-probe-" });
  try {
    await Deno.writeTextFile(
      `${dir}/go.mod`,
      "module nanorpc.interop/probe\n\ngo 1.22\n",
    );
    const flags = [Deno.env.get("GOFLAGS") ?? "", "-mod=mod"].join(" ").trim();
    const got = await exec(["go", "get", `${GO_REFERENCE}@latest`], {
      cwd: dir,
      env: { GOFLAGS: flags },
      timeoutMs: 30_000,
    });
    if (got.ok) {
      const mod = await Deno.readTextFile(`${dir}/go.mod`);
      const line = mod.split("\n").find((l) => l.includes("protomcp.org")) ??
        GO_REFERENCE;
      return `go: SKIPPED (reference module is now fetchable: ${line.trim()}; ` +
        `the Go peers are not written yet)`;
    }
    const first = got.stderr.split("\n").map((l) => l.trim()).find((l) => l) ??
      `go get exited with ${got.code}`;
    return `go: SKIPPED (reference module unavailable from the Go module proxy: ${first})`;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
