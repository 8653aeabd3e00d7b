/**
 * Test kit: headless Chromium for browser tests, driven by npm
 * `playwright-core` against Debian's `chromium` package (`.ci/run` installs
 * it; Playwright's own browser download cannot work without network).
 *
 * Outside CI a machine without Chromium skips browser tests with a message;
 * in CI (`CI=true`) a missing Chromium fails them, so a broken install
 * never passes as green.
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags that keep headless Chromium off the network and quiet. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Why browser tests should be skipped here, or `undefined` to run them:
 * Chromium is missing and this is not CI. In CI it always returns
 * `undefined`, so the test runs and {@link launchChromium} fails loudly.
 * Prints the reason once, since `Deno.test`'s `ignore` shows none.
 *
 * @returns The reason to skip, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { browserSkipReason, launchChromium } from "../testing/browser.ts";
 *
 * Deno.test({
 *   name: "the page loads",
 *   ignore: browserSkipReason() !== undefined,
 *   async fn() {
 *     await using browser = await launchChromium();
 *     const page = await browser.browser.newPage();
 *     await page.goto("data:text/html,<p>hi</p>");
 *   },
 * });
 * ```
 */
export function browserSkipReason(): string | undefined {
  if (isCi() || chromiumInstalled()) return undefined;
  if (!warned) {
    warned = true;
    console.warn(
      `Skipping browser tests: ${CHROMIUM_PATH} is missing; install it with apt-get install chromium (CI installs it and fails without it)`,
    );
  }
  return `${CHROMIUM_PATH} is missing`;
}

let warned = false;

/** A launched Chromium that closes itself when disposed. */
export interface LaunchedChromium extends AsyncDisposable {
  /** The Playwright browser. */
  readonly browser: Browser;
  /** Closes the browser and its pages. */
  close(): Promise<void>;
}

/**
 * Launches headless Debian Chromium with {@link CHROMIUM_ARGS}.
 *
 * @returns The browser; `await using` it or `close()` it.
 * @throws {Error} When Chromium is missing or does not start; the message
 * says how to install it.
 *
 * @example
 * ```ts ignore
 * import { launchChromium } from "../testing/browser.ts";
 *
 * await using chromium = await launchChromium();
 * const page = await chromium.browser.newPage();
 * console.log(await page.evaluate(() => 1 + 1)); // 2
 * ```
 */
export async function launchChromium(): Promise<LaunchedChromium> {
  if (!chromiumInstalled()) {
    throw new Error(
      `${CHROMIUM_PATH} is missing; install Debian's chromium package (apt-get install chromium), as .ci/run does`,
    );
  }
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS],
      timeout: 30_000,
    });
  } catch (error) {
    throw new Error(
      `Chromium at ${CHROMIUM_PATH} did not start: ${
        error instanceof Error ? error.message : String(error)
      }; reinstall the chromium package`,
      { cause: error },
    );
  }
  const close = () => browser.close();
  return { browser, close, [Symbol.asyncDispose]: close };
}

function isCi(): boolean {
  return Deno.env.get("CI") === "true";
}

function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}
