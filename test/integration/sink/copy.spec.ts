import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type pg from 'pg';
import { rowsToBatch, type CollectionSchema, type Column, type RowBatch } from '@gw/schema';
import { buildCopyLayout, copyBatches, SinkError, SinkErrorCode, type CopyLayout } from '@gw/sink';
import { ARRAY_STORAGE, field, fromArray, pk, setupDb } from './helpers';

let env: Awaited<ReturnType<typeof setupDb>>;
beforeAll(async () => {
  env = await setupDb();
});
afterAll(async () => {
  await env.pool.query(`DROP SCHEMA "${env.schema}" CASCADE`);
  await env.pool.end();
});

/** Runs fn in a transaction on its own client; commits unless fn throws (then rolls back and rethrows). */
async function inTx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await env.pool.connect();
  try {
    await c.query('BEGIN');
    try {
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    }
  } finally {
    c.release();
  }
}

const layoutFor = (schema: CollectionSchema, partition = '_default'): CopyLayout =>
  buildCopyLayout({
    fields: schema.fields,
    storage: ARRAY_STORAGE,
    dynamicField: schema.enableDynamicField,
    extra: [{ name: '$partition', type: 'text', value: partition }],
  });

const ALL: CollectionSchema = {
  enableDynamicField: true,
  fields: [
    pk(),
    field('b', 'Bool', { nullable: true }),
    field('i8', 'Int8', { nullable: true }),
    field('i16', 'Int16', { nullable: true }),
    field('i32', 'Int32', { nullable: true }),
    field('i64', 'Int64', { nullable: true }),
    field('f', 'Float', { nullable: true }),
    field('d', 'Double', { nullable: true }),
    field('s', 'VarChar', { nullable: true, maxLength: 65_535 }),
    field('j', 'JSON', { nullable: true }),
    field('sp', 'SparseFloatVector'),
    field('ab', 'Array', { elementType: 'Bool', maxCapacity: 8, nullable: true }),
    field('ai8', 'Array', { elementType: 'Int8', maxCapacity: 8, nullable: true }),
    field('ai16', 'Array', { elementType: 'Int16', maxCapacity: 8, nullable: true }),
    field('ai32', 'Array', { elementType: 'Int32', maxCapacity: 8, nullable: true }),
    field('ai64', 'Array', { elementType: 'Int64', maxCapacity: 8, nullable: true }),
    field('af', 'Array', { elementType: 'Float', maxCapacity: 8, nullable: true }),
    field('ad', 'Array', { elementType: 'Double', maxCapacity: 8, nullable: true }),
    field('as', 'Array', { elementType: 'VarChar', maxCapacity: 8, maxLength: 64, nullable: true }),
    field('fv', 'FloatVector', { dim: 4 }),
    field('bv', 'BinaryVector', { dim: 16 }),
    field('h16', 'Float16Vector', { dim: 2 }),
    field('bf16', 'BFloat16Vector', { dim: 2 }),
  ],
};

const MAX_TEXT = 'é'.repeat(32_767) + 'a'; // 65,535 UTF-8 bytes

const ROWS: Record<string, unknown>[] = [
  {
    id: 9_223_372_036_854_775_807n,
    b: true,
    i8: -128,
    i16: 32_767,
    i32: -2_147_483_648,
    i64: -9_223_372_036_854_775_808n,
    f: 0.1,
    d: 1e308,
    s: '',
    j: { a: { b: [1, 2, { c: null }] }, u: 'ü\u2028😀', e: {} },
    sp: { '3': 0.5, '7': 1.25 },
    ab: [true, false],
    ai8: [-128, 127],
    ai16: [],
    ai32: [1, -2, 2_147_483_647],
    ai64: [9_007_199_254_740_993n, -9_223_372_036_854_775_808n],
    af: [0.1, -0, 3.4028234663852886e38],
    ad: [Math.PI, -Number.MIN_VALUE],
    as: ['', 'héllo', '日本語😀', 'a"b\\c,{}'],
    fv: [0.1, -0, 1e-38, 3.4028234663852886e38],
    bv: Uint8Array.of(0b1010_0000, 0xff),
    h16: [1, -2],
    bf16: [1.5, -3],
    extra: 'dynamic',
  },
  {
    id: -9_223_372_036_854_775_808n,
    b: null,
    i8: null,
    i16: null,
    i32: null,
    i64: null,
    f: null,
    d: null,
    s: null,
    j: null,
    sp: {},
    ab: null,
    ai8: null,
    ai16: null,
    ai32: null,
    ai64: null,
    af: null,
    ad: null,
    as: null,
    fv: [1, 2, 3, 4],
    bv: Uint8Array.of(0, 1),
    h16: [0.5, 65_504],
    bf16: [0, 1],
  },
  {
    id: 9_007_199_254_740_993n,
    b: false,
    i8: 127,
    i16: -32_768,
    i32: 2_147_483_647,
    i64: 9_223_372_036_854_775_807n,
    f: -3.4028234663852886e38,
    d: -0.1,
    s: MAX_TEXT,
    j: [1, 'two', null, true],
    sp: { '4294967294': -1 },
    ab: [],
    ai8: [],
    ai16: [-32_768, 32_767],
    ai32: [],
    ai64: [],
    af: [],
    ad: [],
    as: [],
    fv: [Math.fround(1 / 3), -1e-45, 16_777_217, -7],
    bv: Uint8Array.of(0xff, 0xfe),
    h16: [-0, 1e-7],
    bf16: [-1e30, 2],
    $meta: { nested: { deep: [1, { x: 'y' }] } },
  },
];

type Row = Record<string, unknown>;

describe('copyBatches into a collection table (PostgreSQL 15, vectors as real[])', () => {
  it('reads back every column type exactly, NULLs, extremes and unicode included', async () => {
    const table = await env.createCollection(ALL);
    const batch = rowsToBatch(ALL, ROWS);
    const layout = layoutFor(ALL, 'p1');
    const r = await inTx((c) => copyBatches(c, table, layout, fromArray([batch])));
    expect(r.rows).toBe(3);

    const { rows } = await env.pool.query<Row>(
      `SELECT id::text, b, i8, i16, i32, i64::text, f::float8 AS f, d::text AS d, s, j, sp,
              ab, ai8, ai16, ai32, ai64::text[] AS ai64, af::float8[] AS af, ad::text[] AS ad, "as",
              fv::float8[] AS fv, bv::text AS bv, h16, bf16, "$meta" AS meta, "$partition" AS part
         FROM "${table.schema}"."${table.name}" ORDER BY id`,
    );
    const byId = new Map(rows.map((x) => [x.id, x]));
    const r0 = byId.get('9223372036854775807')!;
    const r1 = byId.get('-9223372036854775808')!;
    const r2 = byId.get('9007199254740993')!;
    const cols = batch.columns;
    const bytesOf = (name: string, row: number): Buffer => {
      const c = cols.get(name) as Extract<Column, { kind: 'bytes' }>;
      return Buffer.from(c.values.subarray(row * c.width, (row + 1) * c.width));
    };

    expect(r0).toEqual({
      id: '9223372036854775807',
      b: true,
      i8: -128,
      i16: 32_767,
      i32: -2_147_483_648,
      i64: '-9223372036854775808',
      f: Math.fround(0.1),
      d: '1e+308',
      s: '',
      j: { a: { b: [1, 2, { c: null }] }, u: 'ü\u2028😀', e: {} },
      sp: { '3': 0.5, '7': 1.25 },
      ab: [true, false],
      ai8: [-128, 127],
      ai16: [],
      ai32: [1, -2, 2_147_483_647],
      ai64: ['9007199254740993', '-9223372036854775808'],
      af: [Math.fround(0.1), -0, Math.fround(3.4028234663852886e38)],
      ad: ['3.141592653589793', '-5e-324'],
      as: ['', 'héllo', '日本語😀', 'a"b\\c,{}'],
      fv: [Math.fround(0.1), -0, Math.fround(1e-38), Math.fround(3.4028234663852886e38)],
      bv: '1010000011111111',
      h16: bytesOf('h16', 0),
      bf16: bytesOf('bf16', 0),
      meta: { extra: 'dynamic' },
      part: 'p1',
    });
    expect(Object.is((r0.fv as number[])[1], -0)).toBe(true);
    expect(r1).toMatchObject({
      b: null,
      i8: null,
      i16: null,
      i32: null,
      i64: null,
      f: null,
      d: null,
      s: null,
      j: null,
      sp: {},
      ab: null,
      ai64: null,
      as: null,
      fv: [1, 2, 3, 4],
      bv: '0000000000000001',
      h16: Buffer.from([0x00, 0x38, 0xff, 0x7b]),
      meta: {},
    });
    expect(r2).toMatchObject({
      b: false,
      i8: 127,
      i16: -32_768,
      i64: '9223372036854775807',
      f: Math.fround(-3.4028234663852886e38),
      d: '-0.1',
      j: [1, 'two', null, true],
      sp: { '4294967294': -1 },
      ab: [],
      ai8: [],
      ai16: [-32_768, 32_767],
      fv: [Math.fround(1 / 3), Math.fround(-1e-45), 16_777_216, -7],
      bv: '1111111111111110',
      bf16: bytesOf('bf16', 2),
      meta: { nested: { deep: [1, { x: 'y' }] } },
    });
    expect(r2.s).toBe(MAX_TEXT);
    expect(Buffer.byteLength(r2.s as string)).toBe(65_535);
  });

  it('leaves out an autoId primary key so the identity numbers the rows', async () => {
    const schema: CollectionSchema = {
      enableDynamicField: false,
      fields: [pk('id', { autoId: true }), field('v', 'FloatVector', { dim: 2 })],
    };
    const table = await env.createCollection(schema);
    const layout = layoutFor(schema);
    expect(layout.columns.map((c) => c.name)).toEqual(['v', '$partition']);
    const batch = rowsToBatch(schema, [{ v: [1, 2] }, { v: [3, 4] }]);
    await inTx((c) => copyBatches(c, table, layout, fromArray([batch, batch])));
    const { rows } = await env.pool.query<{ id: string; v: number[] }>(
      `SELECT id::text, v FROM "${table.schema}"."${table.name}" ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: '1', v: [1, 2] },
      { id: '2', v: [3, 4] },
      { id: '3', v: [1, 2] },
      { id: '4', v: [3, 4] },
    ]);
  });

  it('streams many batches across chunk boundaries and reports each batch to onBatch', async () => {
    const schema: CollectionSchema = {
      enableDynamicField: false,
      fields: [pk(), field('s', 'VarChar', { maxLength: 2000 }), field('v', 'FloatVector', { dim: 64 })],
    };
    const table = await env.createCollection(schema);
    const batches: RowBatch[] = [];
    for (let b = 0; b < 20; b++) {
      const rows = Array.from({ length: 500 }, (_, k) => {
        const id = b * 500 + k;
        return { id, s: 'x'.repeat(id % 1500), v: Array.from({ length: 64 }, (_, d) => id + d / 64) };
      });
      batches.push(rowsToBatch(schema, rows));
    }
    const seen: number[] = [];
    const r = await inTx((c) =>
      copyBatches(c, table, layoutFor(schema), fromArray(batches), {
        chunkBytes: 64 * 1024,
        onBatch: (n) => {
          seen.push(n);
        },
      }),
    );
    expect(r.rows).toBe(10_000);
    expect(seen).toEqual(Array.from({ length: 20 }, () => 500));
    const { rows } = await env.pool.query<{ n: string; len: string; v: number }>(
      `SELECT count(*)::text AS n, sum(length(s))::text AS len, sum(v[64]::float8) AS v FROM "${table.schema}"."${table.name}"`,
    );
    let len = 0;
    let v = 0;
    for (let id = 0; id < 10_000; id++) {
      len += id % 1500;
      v += Math.fround(id + 63 / 64);
    }
    expect(rows[0]).toEqual({ n: '10000', len: String(len), v: expect.closeTo(v, 0) as number });
  });

  it('copies an empty source as zero rows', async () => {
    const schema: CollectionSchema = { enableDynamicField: false, fields: [pk()] };
    const table = await env.createCollection(schema);
    const r = await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray<RowBatch>([])));
    expect(r.rows).toBe(0);
  });
});

describe('round-trip properties', () => {
  const schema: CollectionSchema = {
    enableDynamicField: false,
    fields: [
      pk(),
      field('i64', 'Int64'),
      field('f', 'Float'),
      field('s', 'VarChar', { maxLength: 400, nullable: true }),
      field('ai64', 'Array', { elementType: 'Int64', maxCapacity: 10 }),
    ],
  };
  let table: { schema: string; name: string };
  beforeAll(async () => {
    table = await env.createCollection(schema);
  });

  it('any int64, float32, unicode text and int64 array reads back unchanged', async () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const row = fc.record({
      i64: int64,
      f: fc.float({ noNaN: true, noDefaultInfinity: true }),
      s: fc.option(fc.string({ unit: 'grapheme', maxLength: 50 }), { nil: null }),
      ai64: fc.array(int64, { maxLength: 10 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 30 }), async (rows) => {
        const input = rows.map((r, k) => ({ id: k, ...r }));
        await env.pool.query(`TRUNCATE "${table.schema}"."${table.name}"`);
        await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([rowsToBatch(schema, input)])));
        const { rows: out } = await env.pool.query<{ i64: string; f: number; s: string | null; ai64: string[] }>(
          `SELECT i64::text, f::float8 AS f, s, ai64::text[] AS ai64 FROM "${table.schema}"."${table.name}" ORDER BY id`,
        );
        expect(out).toEqual(
          input.map((r) => ({ i64: String(r.i64), f: r.f, s: r.s, ai64: r.ai64.map((x) => String(x)) })),
        );
      }),
      { numRuns: 25 },
    );
  });
});

describe('vector round-trip properties', () => {
  const schema: CollectionSchema = {
    enableDynamicField: false,
    fields: [
      pk(),
      field('v', 'FloatVector', { dim: 5 }),
      field('bv', 'BinaryVector', { dim: 24 }),
      field('bf', 'BFloat16Vector', { dim: 2 }),
    ],
  };
  let table: { schema: string; name: string };
  beforeAll(async () => {
    table = await env.createCollection(schema);
  });

  it('any float32 vector, bit vector and bfloat16 bytes read back bit-for-bit', async () => {
    const row = fc.record({
      v: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 5, maxLength: 5 }),
      bv: fc.uint8Array({ minLength: 3, maxLength: 3 }),
      bf: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), async (rows) => {
        const n = rows.length;
        const columns = new Map<string, Column>([
          ['id', { kind: 'int64', values: BigInt64Array.from(rows, (_, k) => BigInt(k)), valid: null }],
          ['v', { kind: 'floatVector', dim: 5, values: Float32Array.from(rows.flatMap((r) => r.v)) }],
          ['bv', { kind: 'bytes', width: 3, values: Uint8Array.from(rows.flatMap((r) => [...r.bv])) }],
          ['bf', { kind: 'bytes', width: 4, values: Uint8Array.from(rows.flatMap((r) => [...r.bf])) }],
        ]);
        await env.pool.query(`TRUNCATE "${table.schema}"."${table.name}"`);
        const batch: RowBatch = { file: 'prop', firstRow: 1, rowCount: n, columns, meta: null };
        await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([batch])));
        const { rows: out } = await env.pool.query<{ v: number[]; bv: string; bf: Buffer }>(
          `SELECT v::float8[] AS v, bv::text AS bv, bf FROM "${table.schema}"."${table.name}" ORDER BY id`,
        );
        expect(out).toEqual(
          rows.map((r) => ({
            v: r.v,
            bv: [...r.bv].map((b) => b.toString(2).padStart(8, '0')).join(''),
            bf: Buffer.from(r.bf),
          })),
        );
      }),
      { numRuns: 20 },
    );
  });
});

describe('errors', () => {
  const schema: CollectionSchema = {
    enableDynamicField: false,
    fields: [pk(), field('i8', 'Int8'), field('s', 'VarChar', { maxLength: 3 })],
  };

  function handBatch(ids: bigint[], i8: number[], s: string[], file = 's3://b/part-1.parquet'): RowBatch {
    const columns = new Map<string, Column>([
      ['id', { kind: 'int64', values: BigInt64Array.from(ids), valid: null }],
      ['i8', { kind: 'int32', values: Int32Array.from(i8), valid: null }],
      ['s', { kind: 'text', values: s }],
    ]);
    return { file, firstRow: 101, rowCount: ids.length, columns, meta: null };
  }

  it('fails a duplicate primary key naming the key value, file and row, and rolls back', async () => {
    const table = await env.createCollection(schema);
    const b1 = handBatch([1n, 2n], [0, 0], ['a', 'b'], 'f1');
    const b2 = handBatch([3n, 42n, 42n], [0, 0, 0], ['c', 'd', 'e'], 'f2');
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([b1, b2]))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SinkError);
    const e = err as SinkError;
    expect(e.code).toBe(SinkErrorCode.DuplicateKey);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^duplicate primary key: id=42\b/);
    expect(e.details).toMatchObject({ key: 'id', value: '42', sqlState: '23505', file: 'f2', row: 103 });
    expect(e.message).toBe('duplicate primary key: id=42 (file f2, row 103)');
    expect(await env.count(table)).toBe(0);
  });

  it('fails a CHECK violation naming the constraint and its field', async () => {
    const table = await env.createCollection(schema);
    const bad = handBatch([1n, 2n], [5, 200], ['a', 'b']);
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([bad]))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).code).toBe(SinkErrorCode.CheckViolation);
    expect((err as SinkError).message).toMatch(/^check constraint gw_check_1 violated \(field 'i8'\)/);
    expect((err as SinkError).details).toMatchObject({ constraint: 'gw_check_1', field: 'i8' });
    expect(await env.count(table)).toBe(0);
  });

  it('fails text with a NUL character as invalid data, not retryable', async () => {
    const table = await env.createCollection(schema);
    const bad = handBatch([1n], [5], ['a\u0000']);
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([bad]))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: SinkErrorCode.InvalidData, retryable: false });
  });

  it('fails a COPY the server refuses up front (missing table) as a non-retryable database error', async () => {
    const c = await env.pool.connect();
    try {
      await c.query('BEGIN');
      const b = handBatch([1n], [5], ['a']);
      const err = await copyBatches(
        c,
        { schema: env.schema, name: 'no_such_table' },
        layoutFor(schema),
        fromArray([b, b, b]),
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: SinkErrorCode.Database, retryable: false, details: { sqlState: '42P01' } });
      await c.query('ROLLBACK');
      expect((await c.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
  });

  it('rejects a batch whose columns differ from the layout before sending it', async () => {
    const table = await env.createCollection(schema);
    const b = handBatch([1n], [5], ['a']);
    const cols = new Map(b.columns);
    cols.delete('s');
    cols.set('other', { kind: 'text', values: ['x'] });
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([{ ...b, columns: cols }]))).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: SinkErrorCode.LayoutMismatch });
    expect((err as Error).message).toContain('unexpected: [other], missing: [s]');
  });

  it('rejects a column of the wrong kind or vector width', async () => {
    const table = await env.createCollection(schema);
    const b = handBatch([1n], [5], ['a']);
    const cols = new Map(b.columns);
    cols.set('i8', { kind: 'int64', values: BigInt64Array.of(5n), valid: null });
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), fromArray([{ ...b, columns: cols }]))).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: SinkErrorCode.LayoutMismatch });
    expect((err as Error).message).toContain("field 'i8': a 'int64' column, expected 'int32'");
  });

  it('aborting mid-COPY rolls the transaction back to zero rows and leaves the client usable', async () => {
    const table = await env.createCollection(schema);
    const ac = new AbortController();
    let n = 0;
    async function* endless(): AsyncGenerator<RowBatch> {
      for (let k = 0; ; k++) {
        await Promise.resolve();
        const ids = Array.from({ length: 1000 }, (_, i) => BigInt(k * 1000 + i));
        yield handBatch(ids, new Array<number>(1000).fill(1), new Array<string>(1000).fill('abc'));
      }
    }
    const c = await env.pool.connect();
    try {
      await c.query('BEGIN');
      const err = await copyBatches(c, table, layoutFor(schema), endless(), {
        signal: ac.signal,
        onBatch: () => {
          if (++n === 5) ac.abort(new Error('job cancelled'));
        },
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: SinkErrorCode.Aborted, retryable: false });
      await c.query('ROLLBACK');
      expect((await c.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
    expect(n).toBe(5);
    expect(await env.count(table)).toBe(0);
  });

  it('aborting while the source is waiting rejects promptly', async () => {
    const table = await env.createCollection(schema);
    const ac = new AbortController();
    async function* stuck(): AsyncGenerator<RowBatch> {
      yield handBatch([1n], [1], ['a']);
      await new Promise(() => undefined);
    }
    setTimeout(() => {
      ac.abort();
    }, 50);
    const started = Date.now();
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), stuck(), { signal: ac.signal })).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: SinkErrorCode.Aborted });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await env.count(table)).toBe(0);
  });

  it('rethrows an error of the batch source unchanged after cancelling the COPY', async () => {
    const table = await env.createCollection(schema);
    const boom = new Error('reader failed at row 7');
    async function* failing(): AsyncGenerator<RowBatch> {
      yield handBatch([1n], [1], ['a']);
      throw boom;
    }
    const err = await inTx((c) => copyBatches(c, table, layoutFor(schema), failing())).catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(await env.count(table)).toBe(0);
  });

  it('reports a connection killed mid-COPY as a retryable SinkError', async () => {
    const table = await env.createCollection(schema);
    const c = await env.pool.connect();
    c.on('error', () => undefined);
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    let k = 0;
    async function* batches(): AsyncGenerator<RowBatch> {
      for (;;) {
        await Promise.resolve();
        k++;
        yield handBatch([BigInt(k)], [1], ['a']);
      }
    }
    try {
      await c.query('BEGIN');
      const err = await copyBatches(c, table, layoutFor(schema), batches(), {
        onBatch: async () => {
          if (k === 3) await env.pool.query('SELECT pg_terminate_backend($1)', [pid]);
          if (k > 3) await new Promise((r) => setTimeout(r, 10));
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkError);
      expect(err).toMatchObject({ code: SinkErrorCode.Connection, retryable: true });
    } finally {
      c.release(true);
    }
    expect(await env.count(table)).toBe(0);
  });
});
