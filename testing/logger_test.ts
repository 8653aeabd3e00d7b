import assert from "node:assert/strict";
import { captureConsole, recordingLogger, silentLogger } from "./logger.ts";

Deno.test("recordingLogger keeps every line with its level and arguments", () => {
  const logger = recordingLogger();
  const error = new Error("boom");
  logger.error("handler failed:", error);
  logger.debug("session", 7);
  assert.deepEqual(logger.lines, ["handler failed: Error: boom", "session 7"]);
  assert.equal(logger.entries[0].level, "error");
  assert.equal(logger.entries[0].args[1], error);
  assert.deepEqual(logger.at("debug"), ["session 7"]);
  assert.deepEqual(logger.at("warn"), []);
});

Deno.test("silentLogger drops everything and cannot be changed", () => {
  silentLogger.error("dropped");
  assert.throws(() => {
    (silentLogger as { error: unknown }).error = console.error;
  }, TypeError);
});

Deno.test("captureConsole catches one method until disposed", () => {
  const original = console.warn;
  {
    using logged = captureConsole("warn");
    console.warn("careful", 2);
    assert.deepEqual(logged.calls, [["careful", 2]]);
    assert.notEqual(console.warn, original);
  }
  assert.equal(console.warn, original);
});
