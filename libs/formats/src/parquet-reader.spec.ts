import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { byteInputFromBuffer, type ByteInput } from './byte-input';
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
  it('error_mode=continue: skips rows the schema refuses, naming the file’s rows across batches', async () => {
    const bytes = await write(
      'k.parquet',
      `SELECT i::BIGINT AS id, CASE WHEN i IN (3, 250) THEN 'toolong' ELSE 'ok' END AS s FROM range(1, 301) t(i)`,
    );
    const schema: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('s', 'VarChar', { maxLength: 4 })],
    };
    const rejected: { row: number; field: string; raw: string }[] = [];
    const batches = await readAll('parquet', [byteInputFromBuffer('k.parquet', bytes)], schema, {
      batchRows: 64,
      onRejectedRow: (r) => rejected.push({ row: r.row, field: r.field, raw: r.raw }),
    });
    expect(columnValues(batches, 'id')).toHaveLength(298);
    expect(rejected).toEqual([
      { row: 3, field: 's', raw: 'toolong' },
      { row: 250, field: 's', raw: 'toolong' },
    ]);
  });

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
  it('ends a batch at batchBytes of row data before batchRows, and reads the same rows', async () => {
    // 256-d vectors: 1,024 bytes a row, + 8 for the id, + 8 and the text of each name (RowBatchBuilder's count).
    const bytes = await write(
      'wide.parquet',
      `SELECT i::BIGINT AS id, 'name-' || i AS name, list_transform(range(256), x -> (i * 256 + x)::FLOAT) AS vec
       FROM range(3000) t(i)`,
    );
    const schema: CollectionSchema = {
      enableDynamicField: false,
      fields: [
        fieldOf('id', 'Int64', { isPrimary: true }),
        fieldOf('name', 'VarChar', { maxLength: 32 }),
        fieldOf('vec', 'FloatVector', { dim: 256 }),
      ],
    };
    const input = (): ByteInput => byteInputFromBuffer('wide.parquet', bytes);
    const whole = await readAll('parquet', [input()], schema, { batchRows: 10_000 });
    expect(whole.map((b) => b.rowCount)).toEqual([3000]);
    const capped = await readAll('parquet', [input()], schema, { batchRows: 10_000, batchBytes: 100_000 });
    const sizes = capped.map((b) => b.rowCount);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(Math.floor(100_000 / 1040));
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(90);
    expect(sizes.slice(0, -1).every((n) => n === sizes[0])).toBe(true);
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(3000);
    expect(capped.map((b) => b.firstRow)).toEqual(sizes.map((_, k) => 1 + k * sizes[0]!));
    for (const name of ['id', 'name', 'vec']) expect(columnValues(capped, name)).toEqual(columnValues(whole, name));
    // batchRows still ends batches first when they are the smaller bound; one row is the least.
    const rows = await readAll('parquet', [input()], schema, { batchRows: 50, batchBytes: 100_000 });
    expect(rows.map((b) => b.rowCount)).toEqual(Array<number>(60).fill(50));
    const one = await readAll('parquet', [input()], schema, { batchRows: 1000, batchBytes: 10 });
    expect(one.length).toBe(3000);
  });

  it('names the file, field and rows of invalid UTF-8 and of a page that cannot be decoded', async () => {
    const schema: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('name', 'VarChar', { maxLength: 16 })],
    };
    const enc = new TextEncoder();
    const n = 3000;
    const file = new Uint8Array(
      parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 2 },
          { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
          { name: 'name', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        ],
        codec: 'UNCOMPRESSED',
        columnData: [
          { name: 'id', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) },
          {
            name: 'name',
            data: Array.from({ length: n }, (_, i) => (i === 2500 ? Uint8Array.of(0x61, 0xff) : enc.encode(`n${i}`))),
            encoding: 'PLAIN',
          },
        ],
      }),
    );
    const bad = await failure(
      readAll('parquet', [byteInputFromBuffer('u.parquet', file)], schema, { batchRows: 1000 }),
    );
    expect(bad.message).toBe("u.parquet: field 'name': invalid UTF-8 in a string of rows 2001–3000");

    // Overwrite the header of the first data page of 'name' with bytes that are no thrift struct.
    const meta = parquetMetadata(new Uint8Array(file).buffer);
    const chunk = meta.row_groups[0]!.columns[1]!.meta_data!;
    const broken = Uint8Array.from(file);
    broken.fill(0xff, Number(chunk.data_page_offset), Number(chunk.data_page_offset) + 8);
    const corrupt = await failure(
      readAll('parquet', [byteInputFromBuffer('c.parquet', broken)], schema, { batchRows: 1000 }),
    );
    expect(corrupt.message).toMatch(/^c\.parquet: field 'name': cannot decode rows 1–1000 \(row group 1\): /);
  });
});
