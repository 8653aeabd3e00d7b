// `deno task call --proto FILE`: compiles a .proto file offline with the
// buf binary that the npm package @bufbuild/buf (in deno.json's imports)
// installs under node_modules/.bin, into a FileDescriptorSet.
//
// buf has no include paths (-I): it resolves imports within a workspace,
// and refuses a file that two of its modules hold. So the imports are
// resolved here, as protoc -I does: each from the first of the file's
// folder, each --import-path and this project's proto/ folder (for
// `import "nanorpc.proto"`) that has it; and the compile runs in a
// throwaway workspace of one module holding a link to each file found.
// Imports found nowhere are left to buf, which has the well-known types.

import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { fileSchema, type Schema, SchemaError } from "./_cli_schema.ts";

const BUF = new URL("../node_modules/.bin/buf", import.meta.url).pathname;
const OUR_PROTOS = new URL("../proto", import.meta.url).pathname;
const SEARCHED =
  "imports resolve from the file's folder, each --import-path and nanorpc.proto's folder";

async function realDir(dir: string, flag: string): Promise<string> {
  try {
    const path = await Deno.realPath(dir);
    if ((await Deno.stat(path)).isDirectory) return path;
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
  }
  throw new SchemaError(`${flag} ${dir} is not a folder`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
    return false;
  }
}

/**
 * The files `source` (the text of a .proto file) imports: every
 * `import [public|weak] "name";` outside comments and strings.
 */
export function importsOf(source: string): string[] {
  const tokens = source.match(
    /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\w+|\S/g,
  )?.filter((token) => !/^\/[/*]/.test(token)) ?? [];
  const imports: string[] = [];
  tokens.forEach((token, i) => {
    if (token !== "import" || ![undefined, ";", "}"].includes(tokens[i - 1])) {
      return;
    }
    const at = tokens[i + 1] === "public" || tokens[i + 1] === "weak"
      ? i + 2
      : i + 1;
    const name = tokens[at];
    if (/^["']/.test(name ?? "") && tokens[at + 1] === ";") {
      imports.push(name.slice(1, -1).replace(/\\(.)/g, "$1"));
    }
  });
  return imports;
}

/** Whether `name` is an import name protoc takes: relative, no "." or "..". */
function canonical(name: string): boolean {
  const parts = name.split(/[/\\]/);
  return parts.every((part) => part !== "" && part !== "." && part !== "..");
}

async function readProto(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable) throw cause;
    throw new SchemaError(
      `Cannot read ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * `root` (a real path) and every file it imports, by import name (the
 * root by its base name), each from the first of `dirs` that has it; and
 * the imports found nowhere.
 */
async function resolveImports(
  root: string,
  dirs: readonly string[],
): Promise<{ files: Map<string, string>; missing: string[] }> {
  const files = new Map([[root.slice(root.lastIndexOf("/") + 1), root]]);
  const missing: string[] = [];
  for (const path of files.values()) {
    for (const name of importsOf(await readProto(path))) {
      if (files.has(name) || missing.includes(name) || !canonical(name)) {
        continue;
      }
      let found: string | undefined;
      for (const dir of dirs) {
        if (await isFile(`${dir}/${name}`)) {
          found = `${dir}/${name}`;
          break;
        }
      }
      if (found) files.set(name, found);
      else if (!name.startsWith("google/protobuf/")) missing.push(name);
    }
  }
  return { files, missing };
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
  const dirs = [real.slice(0, real.lastIndexOf("/"))];
  for (const dir of importPaths) dirs.push(await realDir(dir, "--import-path"));
  dirs.push(await Deno.realPath(OUR_PROTOS));
  const { files, missing } = await resolveImports(real, dirs);
  const workspace = await Deno.makeTempDir({ prefix: "nanorpc-proto-" });
  try {
    for (const [name, path] of files) {
      const link = `${workspace}/m/${name}`;
      await Deno.mkdir(link.slice(0, link.lastIndexOf("/")), {
        recursive: true,
      });
      await Deno.symlink(path, link);
    }
    await Deno.writeTextFile(
      `${workspace}/buf.yaml`,
      "version: v2\nmodules:\n  - path: m\n",
    );
    const [rootName] = files.keys();
    const bytes = await runBuf(
      [
        "build",
        `${workspace}/m/${rootName}`,
        "--as-file-descriptor-set",
        "--exclude-source-info",
        "-o",
        "-#format=binpb",
      ],
      file,
      (text) => {
        for (const [name, path] of files) {
          text = text.replaceAll(`${workspace}/m/${name}`, path);
        }
        const notFound = missing.length === 0
          ? ""
          : `\nnot found: ${missing.join(", ")}`;
        return `${text}${notFound}`;
      },
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
      `buf could not compile ${file}:\n${why}\n(${SEARCHED})`,
    );
  }
  return output.stdout;
}
