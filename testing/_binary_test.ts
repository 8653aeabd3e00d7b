import assert from "node:assert/strict";
import { captureConsole } from "./logger.ts";
import {
  binaryCommand,
  binarySkipReason,
  findBinary,
  type NeededBinary,
} from "./_binary.ts";

const ENV = "NANORPC_TEST_BINARY";
const needed: NeededBinary = {
  command: "sh",
  envVar: ENV,
  pkg: "some-package",
  tests: "tests that need it",
};

/** Runs `fn` with `vars` set (or deleted when `undefined`), then restores. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(
    Object.keys(vars).map((key) => [key, Deno.env.get(key)]),
  );
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

Deno.test("binarySkipReason skips outside CI when the binary is missing, naming the package once", () => {
  using warnings = captureConsole("warn");
  withEnv({ CI: undefined, [ENV]: "/nonexistent/binary" }, () => {
    const reason = binarySkipReason(needed);
    assert.match(reason ?? "", /\/nonexistent\/binary is missing/);
    assert.match(reason ?? "", /apt-get install some-package/);
    assert.match(reason ?? "", new RegExp(`set ${ENV} to its path`));
    assert.equal(binarySkipReason(needed), reason);
  });
  assert.equal(warnings.calls.length, 1);
  assert.match(
    String(warnings.calls[0][0]),
    /^Skipping tests that need it: .*apt-get install some-package.*CI=true/,
  );
});

Deno.test("binarySkipReason runs the tests in CI even when the binary is missing", () => {
  withEnv({ CI: "true", [ENV]: "/nonexistent/binary" }, () => {
    assert.equal(binarySkipReason(needed), undefined);
  });
});

Deno.test("binarySkipReason runs the tests outside CI when the binary is on PATH", () => {
  withEnv({ CI: undefined, [ENV]: undefined }, () => {
    assert.equal(binarySkipReason(needed), undefined);
  });
});

Deno.test("binaryCommand is the environment variable's path when set, else the name", () => {
  withEnv(
    { [ENV]: undefined },
    () => assert.equal(binaryCommand(needed), "sh"),
  );
  withEnv({ [ENV]: "/opt/sh" }, () => {
    assert.equal(binaryCommand(needed), "/opt/sh");
  });
});

Deno.test("findBinary finds a name on PATH and refuses missing or non-executable paths", async () => {
  const sh = findBinary("sh");
  assert.ok(sh?.endsWith("/sh"), `sh found at ${sh}`);
  assert.equal(findBinary(sh!), sh);
  assert.equal(findBinary("nanorpc-no-such-binary"), undefined);
  assert.equal(findBinary("/nonexistent/sh"), undefined);
  const file = await Deno.makeTempFile();
  try {
    assert.equal(findBinary(file), undefined);
    await Deno.chmod(file, 0o755);
    assert.equal(findBinary(file), file);
  } finally {
    await Deno.remove(file);
  }
});
