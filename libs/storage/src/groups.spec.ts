import { describe, expect, it } from 'vitest';
import { assertFileSize, expandFolder, groupObjects } from './groups';
import type { ObjectSource, ObjectStat } from './object-source';
import { StorageErrorCode } from './storage.errors';

const stat = (key: string): ObjectStat => ({ key, size: 1, version: 'v' });

describe('groupObjects', () => {
  it('makes one group per json/jsonl/ndjson/parquet/csv file and one per NumPy directory, in key order', () => {
    const keys = [
      'in/2/vector.npy',
      'in/b.parquet',
      'in/1/id.npy',
      'in/1/vector.npy',
      'in/a.json',
      'in/2/id.npy',
      'in/c.JSONL',
      'in/d.ndjson',
      'in/e.csv',
    ];
    const groups = groupObjects(keys.map(stat));
    expect(groups.map((g) => [g.kind, g.objects.map((o) => o.key)])).toEqual([
      ['numpy', ['in/1/id.npy', 'in/1/vector.npy']],
      ['numpy', ['in/2/id.npy', 'in/2/vector.npy']],
      ['json', ['in/a.json']],
      ['parquet', ['in/b.parquet']],
      ['jsonl', ['in/c.JSONL']],
      ['ndjson', ['in/d.ndjson']],
      ['csv', ['in/e.csv']],
    ]);
  });

  it('skips directory markers, dot-files and other extensions', () => {
    const keys = [
      'in/',
      'in/sub/',
      'in/_SUCCESS',
      'in/.part.parquet.crc',
      'in/.hidden.json',
      'in/x.crc',
      'in/README',
      'in/ok.parquet',
    ];
    expect(groupObjects(keys.map(stat)).map((g) => g.objects[0]!.key)).toEqual(['in/ok.parquet']);
  });

  it('returns no groups for an empty listing', () => {
    expect(groupObjects([])).toEqual([]);
  });
});

describe('assertFileSize', () => {
  it('fails with "file too large" naming URL and size above the limit, and passes at the limit', () => {
    expect(() => assertFileSize({ size: 100 }, 100, 's3://b/k')).not.toThrow();
    try {
      assertFileSize({ size: 101 }, 100, 's3://b/k');
      throw new Error('no failure');
    } catch (e) {
      expect((e as Error).message).toBe('file too large: s3://b/k (101 bytes)');
      expect((e as { code: string }).code).toBe(StorageErrorCode.FileTooLarge);
    }
  });
});

describe('expandFolder', () => {
  const sourceOf = (keys: string[], listed: { n: number }): ObjectSource => ({
    stat: () => Promise.reject(new Error('unused')),
    readRange: () => Promise.reject(new Error('unused')),
    stream: () => {
      throw new Error('unused');
    },
    async *list() {
      for (const k of keys) {
        listed.n++;
        yield stat(k);
      }
    },
  });

  it('fails with "no importable files under <url>" when only skipped objects exist', async () => {
    const src = sourceOf(['in/', 'in/_SUCCESS', 'in/.x.json'], { n: 0 });
    await expect(expandFolder(src, 'in/', 's3://b/in/', { maxGroups: 10 })).rejects.toThrow(
      'no importable files under s3://b/in/',
    );
  });

  it('stops listing as soon as the groups exceed the limit', async () => {
    const listed = { n: 0 };
    const keys = Array.from({ length: 100 }, (_, i) => `in/${String(i).padStart(3, '0')}.json`);
    const err = await expandFolder(sourceOf(keys, listed), 'in/', 's3://b/in/', { maxGroups: 5 }).catch(
      (e: unknown) => e,
    );
    expect((err as { code: string }).code).toBe(StorageErrorCode.TooManyGroups);
    expect(listed.n).toBe(6);
  });

  it('counts a NumPy directory as one group against the limit', async () => {
    const keys = ['in/1/a.npy', 'in/1/b.npy', 'in/1/c.npy', 'in/2/a.npy', 'in/x.csv'];
    const groups = await expandFolder(sourceOf(keys, { n: 0 }), 'in/', 's3://b/in/', { maxGroups: 3 });
    expect(groups.map((g) => g.kind)).toEqual(['numpy', 'numpy', 'csv']);
  });
});
