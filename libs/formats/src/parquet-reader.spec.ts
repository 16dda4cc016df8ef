import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { byteInputFromBuffer } from './byte-input';
import { columnValues, failure, readAll } from './spec-helpers';

let dir = '';
async function write(name: string, select: string): Promise<Uint8Array> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const path = join(dir, name);
  await c.run(`COPY (${select}) TO '${path}' (FORMAT parquet, COMPRESSION snappy)`);
  c.closeSync();
  inst.closeSync();
  return readFileSync(path);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pq-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Parquet reader', () => {
  it('reads list<uint8> half vectors as raw bytes, sparse structs, nullable columns and extras into $meta', async () => {
    const bytes = await write(
      'a.parquet',
      `SELECT 1::BIGINT AS id, [0, 60, 0, 192]::UTINYINT[] AS h, {'indices': [7, 2]::UINTEGER[], 'values': [0.5, 1.0]::FLOAT[]} AS sp,
              NULL::INTEGER AS n, 42::BIGINT AS extra, '{"a":1}' AS "$meta"`,
    );
    const schema: CollectionSchema = {
      enableDynamicField: true,
      fields: [
        fieldOf('id', 'Int64', { isPrimary: true }),
        fieldOf('h', 'Float16Vector', { dim: 2 }),
        fieldOf('sp', 'SparseFloatVector'),
        fieldOf('n', 'Int32', { nullable: true }),
      ],
    };
    const batches = await readAll('parquet', [byteInputFromBuffer('a.parquet', bytes)], schema);
    expect(columnValues(batches, 'h')).toEqual([[0, 60, 0, 192]]);
    expect(columnValues(batches, 'sp')).toEqual(['{"2":1,"7":0.5}']);
    expect(columnValues(batches, 'n')).toEqual([null]);
    expect(batches[0]!.meta).toEqual(['{"a":1,"extra":42}']);
  });

  it('widens int32 into Int64 and float into Double, and refuses narrowing from metadata', async () => {
    const bytes = await write('b.parquet', `SELECT 5::INTEGER AS i, 0.5::FLOAT AS d`);
    const wide: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('i', 'Int64'), fieldOf('d', 'Double')],
    };
    const batches = await readAll('parquet', [byteInputFromBuffer('b.parquet', bytes)], wide);
    expect(columnValues(batches, 'i')).toEqual([5n]);
    expect(columnValues(batches, 'd')).toEqual([0.5]);
    const narrow: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('i', 'Int8'), fieldOf('d', 'Double')],
    };
    const e = await failure(readAll('parquet', [byteInputFromBuffer('b.parquet', bytes)], narrow));
    expect(e.message).toBe("b.parquet: field 'i': parquet column type INT32(int32) cannot hold a Int8 field");
  });
});
