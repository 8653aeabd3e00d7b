// `deno task call --list` and `--describe`: a schema's paths as aligned
// text or one JSON object per line, and messages in .proto syntax.

import {
  type DescEnum,
  type DescField,
  type DescMessage,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import {
  DescriptorProtoSchema,
  Edition,
  FeatureSet_FieldPresence,
} from "@bufbuild/protobuf/wkt";
import {
  missingTypes,
  type PathInfo,
  type Schema,
  SchemaError,
} from "./_cli_schema.ts";

function hash(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/**
 * `input -> output`, `filter -> stream update`, or `untyped`; a type the
 * reflection files lack is marked `(missing)`.
 */
function types(p: PathInfo): string {
  if (!p.input && !p.output && !p.missing) return "untyped";
  const name = (m: DescMessage | undefined, missing: string | undefined) =>
    missing ? `${missing} (missing)` : m?.typeName ?? "?";
  const stream = p.kind === "topic" ? "stream " : "";
  return `${name(p.input, p.missing?.input)} \u2192 ${stream}${
    name(p.output, p.missing?.output)
  }`;
}

function pathJson(p: PathInfo) {
  const topic = p.kind === "topic";
  const name = (m: DescMessage | undefined, missing: string | undefined) =>
    missing ?? m?.typeName ?? null;
  const { input, output } = p.missing ?? {};
  return {
    path: p.path,
    hash: hash(p.hash),
    kind: p.kind,
    [topic ? "filter" : "input"]: name(p.input, input),
    [topic ? "update" : "output"]: name(p.output, output),
    method: p.method ?? null,
    // The names above that none of the files defines.
    ...(p.missing ? { missing: [input, output].filter((n) => n) } : {}),
  };
}

/**
 * One line per path: path, kind, hash, types (method); or JSON lines,
 * with `missing` naming the types the files lack, if any.
 */
export function listLines(schema: Schema, json: boolean): string[] {
  if (json) return schema.paths.map((p) => JSON.stringify(pathJson(p)));
  const rows = schema.paths.map((p) => [p.path, p.kind, hash(p.hash)]);
  const widths = [0, 1].map((i) =>
    Math.max(...rows.map((row) => row[i].length))
  );
  return schema.paths.map((p, n) => {
    const cells = rows[n].map((cell, i) =>
      i < 2 ? cell.padEnd(widths[i]) : cell
    );
    const method = p.method ? `  (${p.method})` : "";
    return `${cells.join("  ")}  ${types(p)}${method}`;
  });
}

function scalarName(scalar: ScalarType): string {
  return ScalarType[scalar].toLowerCase();
}

function fieldType(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return scalarName(field.scalar);
    case "enum":
      return field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list": {
      const item = field.listKind === "scalar"
        ? scalarName(field.scalar)
        : field.listKind === "enum"
        ? field.enum.typeName
        : field.message.typeName;
      return `repeated ${item}`;
    }
    case "map": {
      const value = field.mapKind === "scalar"
        ? scalarName(field.scalar)
        : field.mapKind === "enum"
        ? field.enum.typeName
        : field.message.typeName;
      return `map<${scalarName(field.mapKey)}, ${value}>`;
    }
  }
}

/**
 * `required`, or `optional` for a field that tracks presence (a proto3
 * `optional`; every singular proto2 field), else nothing.
 */
function label(field: DescField): string {
  if (field.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED) {
    return "required ";
  }
  if (field.fieldKind === "list" || field.fieldKind === "map" || field.oneof) {
    return "";
  }
  if (field.parent.file.edition === Edition.EDITION_PROTO2) return "optional ";
  return field.presence === FeatureSet_FieldPresence.EXPLICIT &&
      field.fieldKind !== "message"
    ? "optional "
    : "";
}

/** ` [default = ...]` for a proto2 field with a default value. */
function defaultOption(field: DescField): string {
  if (field.fieldKind !== "scalar" && field.fieldKind !== "enum") return "";
  const value = field.getDefaultValue();
  if (value === undefined) return "";
  const text = field.fieldKind === "enum"
    ? field.enum.value[value as number]?.name ?? String(value)
    : field.scalar === ScalarType.STRING
    ? JSON.stringify(value)
    : field.scalar === ScalarType.BYTES
    ? `"${field.proto.defaultValue}"`
    : String(value);
  return ` [default = ${text}]`;
}

function fieldLine(field: DescField, indent: string): string {
  return `${indent}${label(field)}${
    fieldType(field)
  } ${field.name} = ${field.number}${defaultOption(field)};`;
}

function enumLines(desc: DescEnum, indent: string): string[] {
  return [
    `${indent}enum ${desc.name} {`,
    ...desc.values.map((v) => `${indent}  ${v.name} = ${v.number};`),
    `${indent}}`,
  ];
}

/** `desc` in .proto syntax, nested types included, field types qualified. */
export function messageLines(desc: DescMessage, indent = ""): string[] {
  const body: string[] = [];
  const inner = `${indent}  `;
  for (const nested of desc.nestedEnums) body.push(...enumLines(nested, inner));
  for (const nested of desc.nestedMessages) {
    if (!nested.proto.options?.mapEntry) {
      body.push(...messageLines(nested, inner));
    }
  }
  for (const member of desc.members) {
    if (member.kind === "field") {
      body.push(fieldLine(member, inner));
    } else {
      body.push(
        `${inner}oneof ${member.name} {`,
        ...member.fields.map((f) => fieldLine(f, `${inner}  `)),
        `${inner}}`,
      );
    }
  }
  if (body.length === 0) return [`${indent}message ${desc.name} {}`];
  return [`${indent}message ${desc.name} {`, ...body, `${indent}}`];
}

function typeBlock(label: string, desc: DescMessage | undefined): string[] {
  if (!desc) return [`${label}: untyped (raw bytes)`];
  return [`${label} ${desc.typeName}:`, ...messageLines(desc)];
}

/**
 * `target` (a path, or a message type name) described: the path's kind,
 * hash and method, then its message types with their fields.
 *
 * @throws {SchemaError} When the schema has neither such a path nor type,
 * or the path has a type the reflection files lack.
 */
export function describeLines(
  schema: Schema,
  target: string,
  json: boolean,
): string[] {
  const entries = schema.paths.filter((p) => p.path === target);
  if (entries.length === 0) {
    const message = schema.registry.getMessage(target.replace(/^\./, ""));
    if (!message) {
      throw new SchemaError(
        `${schema.source} has no path or message type ${target}; --list shows the paths`,
      );
    }
    if (json) {
      return [JSON.stringify(toJson(DescriptorProtoSchema, message.proto))];
    }
    return [message.typeName + ":", ...messageLines(message)];
  }
  for (const p of entries) {
    const error = missingTypes(p);
    if (error) throw error;
  }
  if (json) {
    return entries.map((p) =>
      JSON.stringify({
        ...pathJson(p),
        messages: Object.fromEntries(
          [p.input, p.output].filter((m) => m !== undefined).map((m) => [
            m.typeName,
            toJson(DescriptorProtoSchema, m.proto),
          ]),
        ),
      })
    );
  }
  const lines: string[] = [];
  for (const p of entries) {
    if (lines.length > 0) lines.push("");
    const method = p.method ? `  ${p.method}` : "";
    lines.push(`${p.path}  ${p.kind}  ${hash(p.hash)}${method}`);
    const topic = p.kind === "topic";
    lines.push(...typeBlock(topic ? "filter" : "input", p.input));
    lines.push("", ...typeBlock(topic ? "update" : "output", p.output));
  }
  return lines;
}
