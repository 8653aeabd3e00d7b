/**
 * Installs and builds what the peers need, idempotently: a virtualenv with
 * the pinned PyPI packages, Python classes from our .proto files, nanopb C
 * sources, nanopb's C runtime (Debian's libnanopb-dev: the PyPI package
 * ships only the generator) and the compiled C peer. Each step keeps a
 * stamp of its inputs, so a warm run does no work.
 *
 * @module
 */

import {
  cached,
  exec,
  type ExecResult,
  exists,
  fingerprint,
  mustExec,
  ROOT,
} from "./_exec.ts";

const HERE = `${ROOT}/interop`;
const BUILD = `${HERE}/build`;
const VENV = `${HERE}/.venv`;
const PROTOS = [`${ROOT}/proto/nanorpc.proto`, `${ROOT}/proto/chat.proto`];
/** The reflection messages: Python only (nanopb has no use for them). */
const REFLECTION_PROTO = `${ROOT}/proto/nanorpc_reflection.proto`;
/** nanorpc.proto imports it; nanopb's generator brings the same file. */
const NANOPB_PROTO = `${ROOT}/proto/nanopb.proto`;

/** The Python interpreter of the interop virtualenv. */
export const PYTHON = `${VENV}/bin/python`;

/** Where the generated Python classes go (the peer's PYTHONPATH). */
export const PYTHON_GEN = `${BUILD}/python`;

/** The compiled nanopb peer. */
export const NANOPB_PEER = `${BUILD}/nanopb/peer`;

/** Where the seed example's Python classes go (see `compileSeed`). */
export const SEED_GEN = `${BUILD}/seed`;

/** Creates the virtualenv and installs requirements.txt into it. */
export async function setupVenv(): Promise<string> {
  const requirements = `${HERE}/requirements.txt`;
  const key = await fingerprint([requirements]);
  const stamp = `${VENV}/.interop-stamp`;
  if (!(await exists(PYTHON))) await Deno.remove(stamp).catch(() => {});
  const warm = await cached(stamp, key, async () => {
    await mustExec(["python3", "-m", "venv", "--clear", VENV]);
    await mustExec([
      PYTHON,
      ...["-m", "pip", "install", "--disable-pip-version-check", "--no-input"],
      ...["-q", "-r", requirements],
    ], { timeoutMs: 300_000 });
  });
  return warm ? "virtualenv up to date" : "virtualenv installed";
}

/** Generates the Google-protobuf classes the Python peer imports. */
export async function setupPython(): Promise<string> {
  const extras = `${HERE}/python/extras.proto`;
  const inputs = [
    ...PROTOS,
    REFLECTION_PROTO,
    NANOPB_PROTO,
    extras,
    `${VENV}/.interop-stamp`,
  ];
  const warm = await cached(
    `${PYTHON_GEN}.stamp`,
    await fingerprint(inputs),
    async () => {
      await Deno.mkdir(PYTHON_GEN, { recursive: true });
      await mustExec([
        PYTHON,
        ...["-m", "grpc_tools.protoc", `-I${ROOT}/proto`, `-I${HERE}/python`],
        `--python_out=${PYTHON_GEN}`,
        ...PROTOS,
        REFLECTION_PROTO,
        NANOPB_PROTO,
        extras,
      ]);
    },
  );
  return warm ? "python classes up to date" : "python classes generated";
}

/**
 * Compiles the seed's example service (`interop/seed/seed_example.proto`)
 * with protoc, resolving `import "nanorpc.proto"` (and its `nanopb.proto`)
 * from proto/ alone, beside protoc's own `google/protobuf/` files, into
 * {@linkcode SEED_GEN}. Never cached: compiling is the test.
 */
export async function compileSeed(): Promise<ExecResult> {
  await Deno.mkdir(SEED_GEN, { recursive: true });
  return await exec([
    PYTHON,
    ...["-m", "grpc_tools.protoc", `-I${ROOT}/proto`, `-I${HERE}/seed`],
    `--python_out=${SEED_GEN}`,
    `${HERE}/seed/seed_example.proto`,
  ]);
}

interface Runtime {
  include: string;
  library: string;
  version: string;
}

async function findFile(dir: string, name: string): Promise<string | null> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isFile && entry.name === name) return path;
    if (entry.isDirectory) {
      const found = await findFile(path, name);
      if (found) return found;
    }
  }
  return null;
}

/** Unpacks Debian's libnanopb-dev into build/ (no system-wide install). */
async function fetchRuntime(root: string): Promise<void> {
  const debs = `${BUILD}/debs`;
  await Deno.mkdir(debs, { recursive: true });
  const download = ["apt-get", "download", "libnanopb-dev"];
  let got = await exec(download, { cwd: debs, timeoutMs: 120_000 });
  if (!got.ok && Deno.uid() === 0) {
    await exec(["apt-get", "update", "-qq"], { timeoutMs: 300_000 });
    got = await exec(download, { cwd: debs, timeoutMs: 120_000 });
  }
  if (!got.ok) {
    throw new Error(
      `cannot fetch libnanopb-dev (nanopb's C runtime): ${got.stderr.trim()}`,
    );
  }
  const deb = [...Deno.readDirSync(debs)].map((e) => e.name)
    .filter((n) => n.startsWith("libnanopb-dev_") && n.endsWith(".deb"))
    .sort().pop();
  if (!deb) throw new Error("apt-get download left no libnanopb-dev .deb");
  await mustExec(["dpkg-deb", "-x", `${debs}/${deb}`, root]);
}

/** nanopb's C runtime: pb.h and friends plus libprotobuf-nanopb.a. */
async function nanopbRuntime(): Promise<Runtime> {
  const root = `${BUILD}/nanopb-runtime`;
  if (!(await exists(`${root}/usr/include/pb.h`))) await fetchRuntime(root);
  const library = await findFile(`${root}/usr/lib`, "libprotobuf-nanopb.a");
  if (!library) throw new Error(`libprotobuf-nanopb.a missing under ${root}`);
  const header = await Deno.readTextFile(`${root}/usr/include/pb.h`);
  const version = header.match(/#define NANOPB_VERSION "([^"]+)"/)?.[1] ??
    "unknown";
  return { include: `${root}/usr/include`, library, version };
}

/** Generates nanopb sources for our .proto files and compiles the peer. */
export async function setupNanopb(): Promise<string> {
  const runtime = await nanopbRuntime();
  const gen = `${BUILD}/nanopb`;
  const options = `${HERE}/nanopb/peer.options`;
  const source = `${HERE}/nanopb/peer.c`;
  const inputs = [
    ...PROTOS,
    NANOPB_PROTO,
    options,
    source,
    `${VENV}/.interop-stamp`,
  ];
  if (!(await exists(NANOPB_PEER))) {
    await Deno.remove(`${gen}.stamp`).catch(() => {});
  }
  const key = await fingerprint(inputs, [runtime.library, runtime.version]);
  const warm = await cached(`${gen}.stamp`, key, async () => {
    await Deno.mkdir(gen, { recursive: true });
    await mustExec([
      `${VENV}/bin/nanopb_generator`,
      ...["-q", `-I${ROOT}/proto`, "-D", gen, "-f", options],
      ...PROTOS,
    ], { env: { PYTHONWARNINGS: "ignore" } });
    await mustExec([
      "gcc",
      ...["-std=c11", "-O2", "-Wall", "-Wextra", `-I${gen}`],
      `-I${runtime.include}`,
      source,
      `${gen}/nanorpc.pb.c`,
      `${gen}/chat.pb.c`,
      runtime.library,
      ...["-o", NANOPB_PEER],
    ]);
  });
  return `${runtime.version} runtime from Debian libnanopb-dev; peer ${
    warm ? "up to date" : "compiled"
  }`;
}
