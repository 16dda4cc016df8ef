import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DuckDBInstance } from '@duckdb/node-api';
import { byteInputFromBuffer, type ByteInput, type FileFormat } from '@gw/formats';
import { fieldOf, toJsonText, type CollectionSchema, type FieldSchema } from '@gw/schema';
import { columnValues, readGroup } from './helpers';

/**
 * Round trip: random schemas and rows, written by a real writer (DuckDB for Parquet, numpy for
 * .npy) or by our own JSON / JSONL / CSV serialisation, read back identical — float32 and int64
 * exact. Run counts are small to keep the suite fast; each Parquet/NumPy run spawns a writer.
 */

type Kind = 'Bool' | 'Int8' | 'Int16' | 'Int32' | 'Int64' | 'Float' | 'Double' | 'VarChar' | 'FloatVector';
const KINDS: readonly Kind[] = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar', 'FloatVector'];
type Value = boolean | number | bigint | string | number[] | null;

interface Case {
  readonly fields: readonly { kind: Kind; nullable: boolean; dim: number }[];
  readonly rows: readonly (readonly Value[])[];
}

const noNegZero = (x: number): number => (Object.is(x, -0) ? 0 : x);
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true }).map(noNegZero);

function valueArb(kind: Kind, dim: number): fc.Arbitrary<Value> {
  switch (kind) {
    case 'Bool':
      return fc.boolean();
    case 'Int8':
      return fc.integer({ min: -128, max: 127 });
    case 'Int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'Int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'Int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'Float':
      return f32;
    case 'Double':
      return fc.double({ noNaN: true, noDefaultInfinity: true }).map(noNegZero);
    case 'VarChar':
      // No NUL: numpy '<U' drops trailing NULs and PostgreSQL text cannot hold them.
      return fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !s.includes('\0') && s !== '\\N');
    case 'FloatVector':
      return fc.array(f32, { minLength: dim, maxLength: dim });
  }
}

function caseArb(allowNull: boolean): fc.Arbitrary<Case> {
  const field = fc.record({
    kind: fc.constantFrom(...KINDS),
    nullable: allowNull ? fc.boolean() : fc.constant(false),
    dim: fc.integer({ min: 1, max: 4 }),
  });
  return fc.array(field, { minLength: 1, maxLength: 5 }).chain((fields) => {
    const fs = fields.map((f) => (f.kind === 'FloatVector' ? { ...f, nullable: false } : f));
    const row = fc.tuple(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      ...fs.map((f) => (f.nullable ? fc.option(valueArb(f.kind, f.dim), { nil: null }) : valueArb(f.kind, f.dim))),
    );
    return fc.array(row, { minLength: 1, maxLength: 25 }).map((rows) => ({ fields: fs, rows: rows }));
  });
}

function schemaOf(c: Case): CollectionSchema {
  const fields: FieldSchema[] = [fieldOf('id', 'Int64', { isPrimary: true })];
  c.fields.forEach((f, k) =>
    fields.push(
      fieldOf(`f${k}`, f.kind, { nullable: f.nullable, dim: f.dim, maxLength: f.kind === 'VarChar' ? 256 : undefined }),
    ),
  );
  return { enableDynamicField: false, fields };
}

function jsonValue(v: Value): string {
  return v === null ? 'null' : toJsonText(v);
}

function jsonRows(c: Case): string[] {
  return c.rows.map(
    (r) => `{"id":${jsonValue(r[0]!)}${c.fields.map((_, k) => `,"f${k}":${jsonValue(r[k + 1]!)}`).join('')}}`,
  );
}

function csvCell(v: Value): string {
  if (v === null) return '\\N';
  const s = Array.isArray(v) ? toJsonText(v) : String(v);
  return /[",\n\r]/.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s;
}

const DUCK: Record<Kind, string> = {
  Bool: 'BOOLEAN',
  Int8: 'TINYINT',
  Int16: 'SMALLINT',
  Int32: 'INTEGER',
  Int64: 'BIGINT',
  Float: 'FLOAT',
  Double: 'DOUBLE',
  VarChar: 'VARCHAR',
  FloatVector: 'FLOAT[]',
};
const NPY: Record<Kind, string> = {
  Bool: '|b1',
  Int8: '|i1',
  Int16: '<i2',
  Int32: '<i4',
  Int64: '<i8',
  Float: '<f4',
  Double: '<f8',
  VarChar: '<U16',
  FloatVector: '<f4',
};

let dir = '';
let seq = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roundtrip-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function write(format: FileFormat, c: Case): Promise<ByteInput[]> {
  const base = join(dir, `c${seq++}`);
  switch (format) {
    case 'json':
      return [byteInputFromBuffer('r.json', Buffer.from(`{"rows":[${jsonRows(c).join(',\n')}]}`), 13)];
    case 'jsonl':
      return [byteInputFromBuffer('r.jsonl', Buffer.from(jsonRows(c).join('\n')), 13)];
    case 'csv': {
      const head = ['id', ...c.fields.map((_, k) => `f${k}`)].join(',');
      const lines = c.rows.map((r) => r.map(csvCell).join(','));
      return [byteInputFromBuffer('r.csv', Buffer.from([head, ...lines].join('\n') + '\n'), 13)];
    }
    case 'parquet': {
      writeFileSync(`${base}.jsonl`, jsonRows(c).join('\n'));
      const cols = ["'id':'BIGINT'", ...c.fields.map((f, k) => `'f${k}':'${DUCK[f.kind]}'`)].join(',');
      const inst = await DuckDBInstance.create(':memory:');
      const conn = await inst.connect();
      await conn.run(
        `COPY (SELECT * FROM read_json('${base}.jsonl', format='newline_delimited', columns={${cols}})) TO '${base}.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 7)`,
      );
      conn.closeSync();
      inst.closeSync();
      return [byteInputFromBuffer('r.parquet', readFileSync(`${base}.parquet`))];
    }
    case 'numpy': {
      const n = c.rows.length;
      const spec = [
        { path: `${base}-id.npy`, dtype: '<i8', shape: [n], data: c.rows.map((r) => r[0]) },
        ...c.fields.map((f, k) => ({
          path: `${base}-f${k}.npy`,
          dtype: NPY[f.kind],
          shape: f.kind === 'FloatVector' ? [n, f.dim] : [n],
          data: c.rows.flatMap((r) => (f.kind === 'FloatVector' ? (r[k + 1] as number[]) : [r[k + 1]])),
        })),
      ];
      writeFileSync(`${base}.spec.json`, toJsonText(spec));
      execFileSync('python3', [resolve(__dirname, '../../fixtures/make_npy.py'), `${base}.spec.json`]);
      return spec.map((s, k) => byteInputFromBuffer(k === 0 ? 'g/id.npy' : `g/f${k - 1}.npy`, readFileSync(s.path)));
    }
  }
}

function expected(c: Case, k: number): unknown[] {
  const f = c.fields[k]!;
  return c.rows.map((r) => {
    const v = r[k + 1]!;
    if (v === null) return null;
    if (f.kind === 'Float') return Math.fround(v as number);
    return v;
  });
}

describe('round trip through real writers', () => {
  it.each([
    ['json', 25],
    ['jsonl', 25],
    ['csv', 25],
    ['parquet', 6],
    ['numpy', 4],
  ] as [FileFormat, number][])('reads back what %s writers wrote, float32 and int64 exact', async (format, numRuns) => {
    await fc.assert(
      fc.asyncProperty(caseArb(format !== 'numpy'), async (c) => {
        const batches = await readGroup(format, await write(format, c), schemaOf(c), { batchRows: 4, nullkey: '\\N' });
        expect(columnValues(batches, 'id')).toEqual(c.rows.map((r) => r[0]));
        c.fields.forEach((_, k) => expect(columnValues(batches, `f${k}`)).toEqual(expected(c, k)));
      }),
      { numRuns },
    );
  });
});
