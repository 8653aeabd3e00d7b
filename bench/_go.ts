// Whether the Go reference server (protomcp/nanorpc) can join the load
// benchmark. It needs a Go toolchain and the module from the Go module
// proxy; nothing else is ever substituted for it. Internal to bench/.

const MODULE = "protomcp.org/nanorpc";

/**
 * A sentence saying why the Go reference target is skipped. Smoke runs do
 * not ask the module proxy (they must not depend on the network).
 */
export async function goReferenceStatus(smoke: boolean): Promise<string> {
  let go: Deno.CommandOutput;
  try {
    go = await new Deno.Command("go", { args: ["version"] }).output();
  } catch {
    return "skipped: no Go toolchain on PATH";
  }
  if (!go.success) return "skipped: `go version` failed";
  if (smoke) {
    return `skipped in smoke mode (the module ${MODULE} is not probed)`;
  }
  const dir = await Deno.makeTempDir({ prefix: "nanorpc-go-probe-" });
  try {
    const probe = new Deno.Command("go", {
      args: ["mod", "download", "-json", `${MODULE}@latest`],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    });
    const out = await probe.output();
    const text = new TextDecoder().decode(out.stdout);
    let error = "";
    try {
      error = (JSON.parse(text) as { Error?: string }).Error ?? "";
    } catch {
      error = new TextDecoder().decode(out.stderr).trim() || text.trim();
    }
    if (!out.success || error) {
      return `skipped: the Go module ${MODULE} is not fetchable (${
        error || `go mod download exited with ${out.code}`
      })`;
    }
    return `skipped: ${MODULE} is fetchable but bench/ has no Go /echo ` +
      `driver for it yet`;
  } catch (err) {
    return `skipped: probing ${MODULE} failed (${
      err instanceof Error ? err.message : err
    })`;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
