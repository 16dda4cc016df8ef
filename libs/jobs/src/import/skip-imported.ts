import type { PlannedGroup, PlannedUnit } from './plan';

/** An object's version and size as the file ledger holds it. */
export interface LedgerEntry {
  version: string;
  size: number;
}

/** What `skip_imported` left out of one file group. */
export interface GroupSkip {
  group: number;
  /** Objects left out. */
  objects: number;
  /** Every object of the group was left out: the group is Skipped. */
  whole: boolean;
  /** Bytes of the objects left out. */
  bytes: number;
}

/**
 * `options.skip_imported` (decision 1401): leaves out the units whose objects the ledger holds at
 * the same version and size. A unit is one reader — one file, or the .npy files of a NumPy group —
 * and is left out only whole: a NumPy group with one changed field file is loaded again entirely,
 * since its files only make rows together. An object without a version (an HTTP server that sends
 * no ETag) is never left out: nothing proves it unchanged. `keep` lists groups that are never
 * touched (already staged by an earlier run of the job).
 */
export function skipImported(
  plan: readonly PlannedGroup[],
  loaded: ReadonlyMap<string, LedgerEntry>,
  keep: ReadonlySet<number> = new Set(),
): { plan: PlannedGroup[]; skips: GroupSkip[] } {
  const out: PlannedGroup[] = [];
  const skips: GroupSkip[] = [];
  for (const g of plan) {
    if (keep.has(g.row.groupIndex)) {
      out.push(g);
      continue;
    }
    const units = g.units.filter((u) => !alreadyLoaded(u, loaded));
    if (units.length === g.units.length) {
      out.push(g);
      continue;
    }
    const left = g.units.filter((u) => !units.includes(u));
    skips.push({
      group: g.row.groupIndex,
      objects: left.reduce((a, u) => a + u.inputs.length, 0),
      whole: units.length === 0,
      bytes: bytesOf(left),
    });
    if (units.length > 0) out.push({ ...g, units, bytes: bytesOf(units) });
  }
  return { plan: out, skips };
}

/** Every display name (ledger URL) of a plan, for one ledger lookup. */
export function objectUrlsOf(plan: readonly PlannedGroup[]): string[] {
  return [...new Set(plan.flatMap((g) => g.units.flatMap((u) => u.inputs.map((i) => i.display))))];
}

/** Object sizes by display name, recorded with the versions so completion can fill the ledger. */
export function sizesOf(g: PlannedGroup): Record<string, number> {
  return Object.fromEntries(g.units.flatMap((u) => u.inputs.map((i) => [i.display, i.stat.size])));
}

/**
 * A helper slot re-plans a group from its row: with skip_imported it keeps only the units the run
 * recorded (the run decided what was left out; the ledger may have grown since).
 */
export function onlyPlannedUnits(g: PlannedGroup, planned: Readonly<Record<string, string>>): PlannedGroup {
  const units = g.units.filter((u) => u.inputs.every((i) => planned[i.display] !== undefined));
  return units.length === g.units.length ? g : { ...g, units, bytes: bytesOf(units) };
}

function alreadyLoaded(u: PlannedUnit, loaded: ReadonlyMap<string, LedgerEntry>): boolean {
  return u.inputs.every((i) => isLoaded(i.stat, i.display, loaded));
}

/** Whether the ledger holds the object at this version and size (never for an empty version). */
export function isLoaded(
  stat: { version: string; size: number },
  url: string,
  loaded: ReadonlyMap<string, LedgerEntry>,
): boolean {
  const l = loaded.get(url);
  return stat.version !== '' && l !== undefined && l.version === stat.version && l.size === stat.size;
}

function bytesOf(units: readonly PlannedUnit[]): number {
  return units.reduce((a, u) => a + u.inputs.reduce((b, i) => b + i.stat.size, 0), 0);
}
