import { describe, expect, it } from 'vitest';
import type { JobFileRow } from '@gw/db';
import type { ObjectSource } from '@gw/storage';
import type { PlannedGroup, PlannedUnit } from './plan';
import { onlyPlannedUnits, skipImported } from './skip-imported';

const source = {} as ObjectSource;

function unit(format: PlannedUnit['format'], objects: [string, string, number][]): PlannedUnit {
  return {
    format,
    inputs: objects.map(([display, version, size]) => ({ source, stat: { key: display, version, size }, display })),
  };
}

function group(index: number, units: PlannedUnit[]): PlannedGroup {
  const row = { groupIndex: index } as JobFileRow;
  return { row, units, bytes: units.reduce((a, u) => a + u.inputs.reduce((b, i) => b + i.stat.size, 0), 0) };
}

const ledger = (entries: [string, string, number][]) =>
  new Map(entries.map(([url, version, size]) => [url, { version, size }]));

describe('skip_imported against the file ledger', () => {
  it('leaves out a file loaded at the same version and size, and marks its group Skipped', () => {
    const plan = [
      group(0, [unit('jsonl', [['s3://b/a.jsonl', '"e1"', 10]])]),
      group(1, [unit('jsonl', [['s3://b/b.jsonl', '"e2"', 20]])]),
    ];
    const r = skipImported(plan, ledger([['s3://b/a.jsonl', '"e1"', 10]]));
    expect(r.plan.map((g) => g.row.groupIndex)).toEqual([1]);
    expect(r.skips).toEqual([{ group: 0, objects: 1, whole: true, bytes: 10 }]);
  });

  it('loads again a file whose version or size changed since it was loaded', () => {
    const plan = [
      group(0, [unit('jsonl', [['s3://b/a.jsonl', '"e9"', 10]])]),
      group(1, [unit('csv', [['s3://b/b.csv', '"e2"', 21]])]),
    ];
    const r = skipImported(
      plan,
      ledger([
        ['s3://b/a.jsonl', '"e1"', 10],
        ['s3://b/b.csv', '"e2"', 20],
      ]),
    );
    expect(r.plan).toHaveLength(2);
    expect(r.skips).toEqual([]);
  });

  it('never leaves out an object without a version (nothing proves it unchanged)', () => {
    const plan = [group(0, [unit('jsonl', [['https://h/a.jsonl', '', 10]])])];
    expect(skipImported(plan, ledger([['https://h/a.jsonl', '', 10]])).plan).toHaveLength(1);
  });

  it('leaves out the loaded files of a folder and keeps the new ones, counting the skipped objects', () => {
    const plan = [
      group(0, [
        unit('parquet', [['s3://b/d/1.parquet', '"a"', 5]]),
        unit('parquet', [['s3://b/d/2.parquet', '"b"', 7]]),
        unit('parquet', [['s3://b/d/3.parquet', '"c"', 9]]),
      ]),
    ];
    const r = skipImported(
      plan,
      ledger([
        ['s3://b/d/1.parquet', '"a"', 5],
        ['s3://b/d/2.parquet', '"b"', 7],
      ]),
    );
    expect(r.plan).toHaveLength(1);
    expect(r.plan[0]!.units.map((u) => u.inputs[0]!.display)).toEqual(['s3://b/d/3.parquet']);
    expect(r.plan[0]!.bytes).toBe(9);
    expect(r.skips).toEqual([{ group: 0, objects: 2, whole: false, bytes: 12 }]);
  });

  it('loads a whole NumPy group again when one of its field files changed', () => {
    const np = unit('numpy', [
      ['s3://b/n/id.npy', '"i"', 100],
      ['s3://b/n/vector.npy', '"v2"', 400],
    ]);
    const r = skipImported(
      [group(0, [np])],
      ledger([
        ['s3://b/n/id.npy', '"i"', 100],
        ['s3://b/n/vector.npy', '"v1"', 400],
      ]),
    );
    expect(r.plan[0]!.units[0]!.inputs).toHaveLength(2);
    expect(r.skips).toEqual([]);
    const same = skipImported(
      [group(0, [np])],
      ledger([
        ['s3://b/n/id.npy', '"i"', 100],
        ['s3://b/n/vector.npy', '"v2"', 400],
      ]),
    );
    expect(same.skips).toEqual([{ group: 0, objects: 2, whole: true, bytes: 500 }]);
  });

  it('never touches groups an earlier run of the job already staged', () => {
    const plan = [group(0, [unit('jsonl', [['s3://b/a.jsonl', '"e1"', 10]])])];
    const r = skipImported(plan, ledger([['s3://b/a.jsonl', '"e1"', 10]]), new Set([0]));
    expect(r.plan).toHaveLength(1);
    expect(r.skips).toEqual([]);
  });

  it('lets a helper slot keep only the units of a folder the run planned', () => {
    const g = group(0, [
      unit('jsonl', [['s3://b/d/1.jsonl', '"a"', 5]]),
      unit('jsonl', [['s3://b/d/2.jsonl', '"b"', 7]]),
    ]);
    const kept = onlyPlannedUnits(g, { 's3://b/d/2.jsonl': '"b"' });
    expect(kept.units.map((u) => u.inputs[0]!.display)).toEqual(['s3://b/d/2.jsonl']);
    expect(kept.bytes).toBe(7);
  });
});
