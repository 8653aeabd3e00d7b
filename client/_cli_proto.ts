// `deno task call --proto FILE`: compiles a .proto file offline with the
// buf binary that the npm package @bufbuild/buf (in deno.json's imports)
// installs under node_modules/.bin, into a FileDescriptorSet.
//
// buf has no include paths (-I); it resolves imports within a workspace.
// So the compile runs in a throwaway workspace whose modules are symlinks
// to the file's folder, each --import-path, and this project's proto/
// folder (for `import "nanorpc.proto"`) unless a folder before it already
// has a nanorpc.proto.

import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { fileSchema, type Schema, SchemaError } from "./_cli_schema.ts";

const BUF = new URL("../node_modules/.bin/buf", import.meta.url).pathname;
const OUR_PROTOS = new URL("../proto", import.meta.url).pathname;

async function realDir(dir: string, flag: string): Promise<string> {
  try {
    const path = await Deno.realPath(dir);
    if ((await Deno.stat(path)).isDirectory) return path;
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
  }
  throw new SchemaError(`${flag} ${dir} is not a folder`);
}

async function has(dir: string, name: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${dir}/${name}`)).isFile;
  } catch {
    return false;
  }
}

/** The folders buf should resolve imports from, first match first. */
async function moduleDirs(
  fileDir: string,
  importPaths: readonly string[],
): Promise<string[]> {
  const dirs: string[] = [fileDir];
  for (const dir of importPaths) dirs.push(await realDir(dir, "--import-path"));
  let ours = false;
  for (const dir of dirs) ours ||= await has(dir, "nanorpc.proto");
  if (!ours) dirs.push(await Deno.realPath(OUR_PROTOS));
  return [...new Set(dirs)];
}

/**
 * Compiles `file` (and what it imports) into the schema of its services.
 *
 * @throws {SchemaError} When the file is missing, buf is not installed or
 * the compile fails (buf's own message included).
 */
export async function compileProto(
  file: string,
  importPaths: readonly string[] = [],
): Promise<Schema> {
  let real: string;
  try {
    real = await Deno.realPath(file);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
    throw new SchemaError(`Cannot read --proto ${file}: no such file`, {
      cause,
    });
  }
  const slash = real.lastIndexOf("/");
  const dirs = await moduleDirs(real.slice(0, slash), importPaths);
  const workspace = await Deno.makeTempDir({ prefix: "nanorpc-proto-" });
  try {
    const modules = dirs.map((dir, i) => {
      Deno.symlinkSync(dir, `${workspace}/m${i}`);
      return `  - path: m${i}\n`;
    });
    await Deno.writeTextFile(
      `${workspace}/buf.yaml`,
      `version: v2\nmodules:\n${modules.join("")}`,
    );
    const bytes = await runBuf(
      [
        "build",
        `${workspace}/m0/${real.slice(slash + 1)}`,
        "--as-file-descriptor-set",
        "--exclude-source-info",
        "-o",
        "-#format=binpb",
      ],
      file,
      (text) =>
        dirs.reduce(
          (out, dir, i) => out.replaceAll(`${workspace}/m${i}/`, `${dir}/`),
          text,
        ),
    );
    return fileSchema(fromBinary(FileDescriptorSetSchema, bytes), file);
  } finally {
    await Deno.remove(workspace, { recursive: true }).catch(() => {});
  }
}

async function runBuf(
  args: string[],
  file: string,
  unlink: (message: string) => string,
): Promise<Uint8Array> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(BUF, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
    throw new SchemaError(
      `Cannot run buf (${BUF}): ${
        (cause as Error).message
      }; install the project's npm packages (deno install), or give --descriptor-set FILE made with \`buf build -o FILE\``,
      { cause },
    );
  }
  if (!output.success) {
    const why = unlink(new TextDecoder().decode(output.stderr).trim());
    throw new SchemaError(
      `buf could not compile ${file}:\n${why}\n(imports resolve from the file's folder, each --import-path and nanorpc.proto's folder)`,
    );
  }
  return output.stdout;
}
