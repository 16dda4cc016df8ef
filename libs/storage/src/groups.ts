import type { ObjectSource, ObjectStat } from './object-source';
import { storageErrors } from './storage.errors';

export type FileGroupKind = 'json' | 'jsonl' | 'ndjson' | 'parquet' | 'csv' | 'numpy';

/** One unit of import: a single file, or the `.npy` field files of one directory. */
export interface FileGroup {
  kind: FileGroupKind;
  objects: ObjectStat[];
}

const SINGLE: Readonly<Record<string, FileGroupKind>> = {
  '.json': 'json',
  '.jsonl': 'jsonl',
  '.ndjson': 'ndjson',
  '.parquet': 'parquet',
  '.csv': 'csv',
};

/**
 * Folder expansion (spec §3), pure: each json/jsonl/ndjson/parquet/csv object is its own group,
 * the `.npy` objects of one directory form one group, and directory markers, dot-files and any
 * other extension (`_SUCCESS`, `.crc`) are skipped. Groups come in key order of their first object.
 */
export function groupObjects(stats: Iterable<ObjectStat>): FileGroup[] {
  const sorted = [...stats].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const groups: FileGroup[] = [];
  const numpyByDir = new Map<string, FileGroup>();
  for (const s of sorted) {
    if (s.key === '' || s.key.endsWith('/')) continue;
    const slash = s.key.lastIndexOf('/');
    const name = s.key.slice(slash + 1);
    if (name.startsWith('.')) continue;
    const dot = name.lastIndexOf('.');
    if (dot <= 0) continue;
    const ext = name.slice(dot).toLowerCase();
    if (ext === '.npy') {
      const dir = s.key.slice(0, slash + 1);
      let g = numpyByDir.get(dir);
      if (g === undefined) {
        g = { kind: 'numpy', objects: [] };
        numpyByDir.set(dir, g);
        groups.push(g);
      }
      g.objects.push(s);
      continue;
    }
    const kind = SINGLE[ext];
    if (kind !== undefined) groups.push({ kind, objects: [s] });
  }
  return groups;
}

/** Fails before any read when an object exceeds IMPORT_MAX_FILE_BYTES. */
export function assertFileSize(stat: Pick<ObjectStat, 'size'>, maxBytes: number, display: string): void {
  if (stat.size > maxBytes) throw storageErrors.tooLarge(display, stat.size);
}

/**
 * Lists a folder and groups it (spec §3): fails with `no importable files under <url>` when
 * nothing importable is found, and stops listing as soon as the groups exceed `maxGroups`
 * (IMPORT_MAX_FILE_GROUPS), so a bucket of millions of keys cannot exhaust memory.
 */
export async function expandFolder(
  source: ObjectSource,
  prefix: string,
  display: string,
  opts: { maxGroups: number; signal?: AbortSignal },
): Promise<FileGroup[]> {
  const seen: ObjectStat[] = [];
  let importable = 0;
  const numpyDirs = new Set<string>();
  for await (const s of source.list(prefix, opts.signal)) {
    const name = s.key.slice(s.key.lastIndexOf('/') + 1);
    const ext = name.slice(name.lastIndexOf('.')).toLowerCase();
    if (name.startsWith('.') || s.key.endsWith('/')) continue;
    // Only importable objects are kept: skipped ones (_SUCCESS, .crc…) may be the bulk of a folder.
    if (ext === '.npy') numpyDirs.add(s.key.slice(0, s.key.lastIndexOf('/') + 1));
    else if (Object.hasOwn(SINGLE, ext)) importable++;
    else continue;
    seen.push(s);
    if (importable + numpyDirs.size > opts.maxGroups) throw storageErrors.tooManyGroups(display, opts.maxGroups);
  }
  const groups = groupObjects(seen);
  if (groups.length === 0) throw storageErrors.noImportableFiles(display);
  return groups;
}
