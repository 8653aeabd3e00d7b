// Where heap goes: sums the nodes of a V8 heap snapshot by kind and
// constructor, and diffs two snapshots, so a per-connection or
// per-subscription cost can be pinned on the objects that make it up.
// Internal to bench/.

import { markdownTable } from "./_harness.ts";

/** Count and self size of one kind of heap node. */
export interface HeapGroup {
  count: number;
  size: number;
}

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  strings: string[];
}

// Strings and numbers are grouped by kind, not by their (varying) content.
const BY_KIND = new Set([
  "string",
  "concatenated string",
  "sliced string",
  "number",
  "bigint",
  "symbol",
]);

/** Groups the nodes of the snapshot at `path` by kind and name. */
export async function heapGroups(
  path: string,
): Promise<Map<string, HeapGroup>> {
  const snap = JSON.parse(await Deno.readTextFile(path)) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, HeapGroup>();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const key = BY_KIND.has(type)
      ? `(${type})`
      : `${type} ${snap.strings[nodes[i + nameAt]].slice(0, 60)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { count: 0, size: 0 });
    g.count++;
    g.size += nodes[i + sizeAt];
  }
  return groups;
}

/** A row of {@link heapDiff}: what grew, per unit (connection, …). */
export interface HeapDelta {
  key: string;
  objects_each: number;
  bytes_each: number;
}

/**
 * The groups that grew the most from `before` to `after`, divided by
 * `units`; groups whose growth rounds to nothing per unit are left out.
 */
export function heapDiff(
  before: Map<string, HeapGroup>,
  after: Map<string, HeapGroup>,
  units: number,
  top = 20,
): HeapDelta[] {
  const rows: HeapDelta[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 };
    const bytes = (a.size - b.size) / units;
    if (Math.abs(bytes) < 0.5) continue;
    rows.push({
      key,
      objects_each: Math.round((a.count - b.count) / units * 100) / 100,
      bytes_each: Math.round(bytes * 10) / 10,
    });
  }
  rows.sort((x, y) => y.bytes_each - x.bytes_each);
  return rows.slice(0, top);
}

/** {@link heapDiff} rows as a markdown table, with their total. */
export function heapTable(rows: HeapDelta[], unit: string): string {
  const total = rows.reduce((n, r) => n + r.bytes_each, 0);
  return markdownTable(
    ["heap node (kind name)", `objects per ${unit}`, `bytes per ${unit}`],
    [
      ...rows.map((r) => [
        r.key,
        String(r.objects_each),
        r.bytes_each.toFixed(1),
      ]),
      ["total of the rows above", "", total.toFixed(1)],
    ],
  );
}
