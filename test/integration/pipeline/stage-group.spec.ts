import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  byteInputFromBuffer,
  FormatError,
  openFileGroup,
  type ByteInput,
  type FileFormat,
  type RejectedRow,
} from '@gw/formats';
import { ParsePool, stageGroup, stageUnits, type StageGroupInput, type StageUnit } from '@gw/jobs';
import { toJsonText, type CollectionSchema } from '@gw/schema';
import { buildCopyLayout, copyBatches, SinkError, SinkErrorCode, type LayoutInput } from '@gw/sink';
import { ARRAY_STORAGE, field, pk, setupDb } from '../sink/helpers';

/**
 * stageGroup against the real PostgreSQL: the rows staged through the pipeline, with 0/1/2/4
 * parse threads and pieces small enough that every file is cut many times, equal what the
 * serial reader + copyBatches stage, in the same order; errors name the file's own rows.
 */

const ROWS = 1500;
const DIM = 8;
const PIECE = 16 << 10; // ~120 JSONL rows a piece

const SCHEMA: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    pk('id'),
    field('v', 'FloatVector', { dim: DIM }),
    field('s', 'VarChar', { maxLength: 64 }),
    field('n', 'Int32', { nullable: true }),
  ],
};
const LAYOUT: LayoutInput = { fields: SCHEMA.fields, storage: ARRAY_STORAGE, dynamicField: false };

interface Row {
  id: bigint;
  v: number[];
  s: string;
  n: number | null;
}

const rows: Row[] = Array.from({ length: ROWS }, (_, i) => ({
  id: BigInt(i) * 7919n + 3n,
  v: Array.from({ length: DIM }, (_, k) => Math.fround(Math.sin(i * 31 + k) * 1000) / 7),
  s: `row ${i} ü`,
  n: i % 5 === 0 ? null : i - 700,
}));

const jsonRow = (r: Row): string => toJsonText({ id: r.id, v: r.v, s: r.s, n: r.n });
const jsonl = (rs: readonly Row[]): string => rs.map(jsonRow).join('\n') + '\n';
const json = (rs: readonly Row[]): string => `{"rows": [\n${rs.map(jsonRow).join(',\n  ')}\n]}\n`;
/** Tab-separated: vectors hold commas, so comma CSV needs quotes (and is read unsplit). */
const tsv = (rs: readonly Row[]): string =>
  'id\tv\ts\tn\n' + rs.map((r) => `${r.id}\t${toJsonText(r.v)}\t${r.s}\t${r.n ?? '\\N'}`).join('\n') + '\n';
const csvQuoted = (rs: readonly Row[]): string =>
  'id,v,s,n\r\n' + rs.map((r) => `${r.id},"${toJsonText(r.v)}",${r.s},${r.n ?? '\\N'}`).join('\r\n') + '\r\n';

/** Quoted fields holding separators, doubled quotes and line breaks: cut only outside quotes. */
const csvMultiline = (rs: readonly Row[]): string =>
  'id,v,s,n\n' +
  rs
    .map((r, i) => `${r.id},"${toJsonText(r.v)}","${i % 7 === 0 ? `a ""q"",\nb ${i}` : r.s}",${r.n ?? '\\N'}`)
    .join('\n') +
  '\n';

let env: Awaited<ReturnType<typeof setupDb>>;
let dir: string;
const pools = new Map<number, ParsePool>();
const groups = new Map<string, { format: FileFormat; inputs: ByteInput[]; sep?: string }>();

beforeAll(async () => {
  env = await setupDb();
  dir = mkdtempSync(join(tmpdir(), 'pipeline-'));
  const text = (name: string, s: string): ByteInput[] => [byteInputFromBuffer(name, Buffer.from(s), 5000)];
  groups.set('jsonl', { format: 'jsonl', inputs: text('r.jsonl', jsonl(rows)) });
  groups.set('json', { format: 'json', inputs: text('r.json', json(rows)) });
  groups.set('json bare array', { format: 'json', inputs: text('a.json', `[${rows.map(jsonRow).join(',')}]`) });
  groups.set('csv (tab)', { format: 'csv', inputs: text('r.csv', tsv(rows)), sep: '\t' });
  groups.set('csv (quoted, CRLF)', { format: 'csv', inputs: text('q.csv', csvQuoted(rows)) });
  // A lone CR ends a record too: such a file is not cut but streamed whole through one thread.
  groups.set('csv (CR line ends)', { format: 'csv', inputs: text('cr.csv', csvQuoted(rows).replace(/\r\n/g, '\r')) });
  groups.set('csv (multi-line quoted)', { format: 'csv', inputs: text('m.csv', csvMultiline(rows)) });
  writeFileSync(join(dir, 'r.jsonl'), jsonl(rows));
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await conn.run(
    `COPY (SELECT * FROM read_json('${dir}/r.jsonl', format='newline_delimited', columns={'id':'BIGINT','v':'FLOAT[]','s':'VARCHAR','n':'INTEGER'})) TO '${dir}/r.parquet' (FORMAT parquet, ROW_GROUP_SIZE 200)`,
  );
  conn.closeSync();
  inst.closeSync();
  groups.set('parquet', {
    format: 'parquet',
    inputs: [byteInputFromBuffer('r.parquet', readFileSync(join(dir, 'r.parquet')))],
  });
  const spec = [
    { path: `${dir}/id.npy`, dtype: '<i8', shape: [ROWS], data: rows.map((r) => r.id) },
    { path: `${dir}/v.npy`, dtype: '<f4', shape: [ROWS, DIM], data: rows.flatMap((r) => r.v) },
    { path: `${dir}/s.npy`, dtype: '<U16', shape: [ROWS], data: rows.map((r) => r.s) },
  ];
  writeFileSync(join(dir, 'spec.json'), toJsonText(spec));
  execFileSync('python3', [resolve(__dirname, '../../fixtures/make_npy.py'), join(dir, 'spec.json')]);
  groups.set('numpy', {
    format: 'numpy',
    inputs: ['id', 'v', 's'].map((f) => byteInputFromBuffer(`g/${f}.npy`, readFileSync(join(dir, `${f}.npy`)))),
  });
  for (const t of [1, 2, 4]) pools.set(t, new ParsePool(t));
}, 120_000);

afterAll(async () => {
  for (const p of pools.values()) await p.close();
  await env.pool.query(`DROP SCHEMA "${env.schema}" CASCADE`);
  await env.pool.end();
  rmSync(dir, { recursive: true, force: true });
});

async function inTx<T>(fn: (c: pg.PoolClient) => Promise<T>, commit = true): Promise<T> {
  const c = await env.pool.connect();
  try {
    await c.query('BEGIN');
    try {
      const r = await fn(c);
      await c.query(commit ? 'COMMIT' : 'ROLLBACK');
      return r;
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    }
  } finally {
    c.release();
  }
}

/** Rows in heap (insertion) order, as text: order and values both compared. */
async function dump(t: { schema: string; name: string }): Promise<string[]> {
  const r = await env.pool.query<{ r: string }>(`SELECT t::text AS r FROM "${t.schema}"."${t.name}" t ORDER BY ctid`);
  return r.rows.map((x) => x.r);
}

const groupInput = (name: string, batchRows = 100): StageGroupInput => {
  const g = groups.get(name)!;
  return {
    format: g.format,
    inputs: g.inputs,
    schema: SCHEMA,
    readOptions: { batchRows, nullkey: '\\N', ...(g.sep !== undefined ? { sep: g.sep } : {}) },
    layout: LAYOUT,
  };
};

/** What the serial reader + copyBatches stage: the reference. */
async function reference(name: string): Promise<string[]> {
  const g = groupInput(name);
  const t = await env.createCollection(SCHEMA);
  await inTx((c) =>
    copyBatches(c, t, buildCopyLayout(LAYOUT), openFileGroup(g.format, g.inputs, g.schema, g.readOptions).batches()),
  );
  return dump(t);
}

async function staged(name: string, threads: number, batchRows = 100): Promise<string[]> {
  const t = await env.createCollection(SCHEMA);
  const known: number[] = [];
  const r = await inTx((c) =>
    stageGroup(c, t, groupInput(name, batchRows), {
      signal: new AbortController().signal,
      parseThreads: threads === 0 ? null : pools.get(threads)!,
      pieceBytes: PIECE,
      onKnownRows: (n) => known.push(n),
    }),
  );
  expect(r.rows).toBe(ROWS);
  if (name === 'parquet' || name === 'numpy') expect(known).toEqual([ROWS]);
  return dump(t);
}

describe('stageGroup stages exactly the reader’s rows', () => {
  const names = [
    'jsonl',
    'json',
    'json bare array',
    'csv (tab)',
    'csv (quoted, CRLF)',
    'csv (multi-line quoted)',
    'csv (CR line ends)',
    'parquet',
    'numpy',
  ];
  it.each(names)('%s: the same rows in the same order with 0, 1, 2 and 4 parse threads', async (name) => {
    const ref = await reference(name);
    expect(ref).toHaveLength(ROWS);
    for (const threads of [0, 1, 2, 4]) expect(await staged(name, threads)).toEqual(ref);
  });
});

describe('stageUnits', () => {
  it.each([0, 2])(
    'stages several units in one COPY, in order, opening and releasing each lazily (%i threads)',
    async (threads) => {
      const ref = await reference('jsonl');
      const t = await env.createCollection(SCHEMA);
      const log: string[] = [];
      async function* units(): AsyncGenerator<StageUnit> {
        const parts = [
          ['a.jsonl', 'jsonl', jsonl(rows.slice(0, 600))],
          ['b.json', 'json', json(rows.slice(600, 1100))],
          ['c.csv', 'csv', csvMultiline(rows.slice(1100)).replace(/"a ""q"",\nb \d+"/g, '"x"')],
        ] as const;
        for (const [name, format, text] of parts) {
          log.push(`open ${name}`);
          yield {
            format,
            inputs: [byteInputFromBuffer(name, Buffer.from(text), 5000)],
            schema: SCHEMA,
            readOptions: { batchRows: 100, nullkey: '\\N' },
          };
          log.push(`close ${name}`);
        }
      }
      const r = await inTx((c) =>
        stageUnits(c, t, LAYOUT, units(), {
          signal: new AbortController().signal,
          parseThreads: threads === 0 ? null : pools.get(threads)!,
          pieceBytes: PIECE,
        }),
      );
      expect(r.rows).toBe(ROWS);
      expect(log).toEqual([
        'open a.jsonl',
        'close a.jsonl',
        'open b.json',
        'close b.json',
        'open c.csv',
        'close c.csv',
      ]);
      const got = await dump(t);
      // Same rows in the same order as one JSONL file, except the CSV part's rewritten strings.
      expect(got.slice(0, 1100)).toEqual(ref.slice(0, 1100));
      expect(got).toHaveLength(ROWS);
    },
  );
});

/** The error the serial reader gives for the same bytes. */
async function serialError(format: FileFormat, input: ByteInput, sep?: string): Promise<FormatError> {
  try {
    const opts = { batchRows: 100, nullkey: '\\N', ...(sep !== undefined ? { sep } : {}) };
    for await (const b of openFileGroup(format, [input], SCHEMA, opts).batches()) expect(b.rowCount).toBeGreaterThan(0);
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  }
  throw new Error('expected the serial read to fail');
}

async function stagedError(format: FileFormat, input: ByteInput, threads: number, sep?: string): Promise<unknown> {
  const t = await env.createCollection(SCHEMA);
  try {
    await inTx((c) =>
      stageGroup(
        c,
        t,
        {
          format,
          inputs: [input],
          schema: SCHEMA,
          readOptions: { batchRows: 100, nullkey: '\\N', ...(sep !== undefined ? { sep } : {}) },
          layout: LAYOUT,
        },
        { signal: new AbortController().signal, parseThreads: pools.get(threads) ?? null, pieceBytes: PIECE },
      ),
    );
  } catch (e) {
    expect(await env.count(t)).toBe(0);
    return e;
  }
  throw new Error('expected staging to fail');
}

describe('error_mode=continue: rows refused in threads are skipped and named with the file’s own rows', () => {
  // Bad rows in different pieces (16 KiB ≈ 120 rows): each must come back with its file row.
  const badAt = [0, 399, 400, 1200, ROWS - 1];
  const bad = rows.map((r, i) => (badAt.includes(i) ? { ...r, v: r.v.slice(1) } : r));
  const cases: [string, FileFormat, string, string | undefined][] = [
    ['jsonl', 'jsonl', jsonl(bad), undefined],
    ['json', 'json', json(bad), undefined],
    ['csv', 'csv', tsv(bad), '\t'],
    ['quoted csv', 'csv', csvQuoted(bad), undefined],
  ];
  it.each(cases)(
    '%s: 0, 1, 2 and 4 threads reject exactly rows 1, 400, 401, 1201 and 1500',
    async (_, format, text, sep) => {
      const name = `bad.${format}`;
      const input = byteInputFromBuffer(name, Buffer.from(text), 4096);
      for (const threads of [0, 1, 2, 4]) {
        const t = await env.createCollection(SCHEMA);
        const rejected: RejectedRow[] = [];
        const r = await inTx((c) =>
          stageGroup(
            c,
            t,
            {
              format,
              inputs: [input],
              schema: SCHEMA,
              readOptions: {
                batchRows: 100,
                nullkey: '\\N',
                ...(sep !== undefined ? { sep } : {}),
                onRejectedRow: (x) => rejected.push(x),
              },
              layout: LAYOUT,
            },
            { signal: new AbortController().signal, parseThreads: pools.get(threads) ?? null, pieceBytes: PIECE },
          ),
        );
        expect(r.rows).toBe(ROWS - badAt.length);
        expect(await env.count(t)).toBe(ROWS - badAt.length);
        const got = rejected.map((x) => [x.file, x.row, x.field, x.reason]).sort((a, b) => Number(a[1]) - Number(b[1]));
        expect(got).toEqual(badAt.map((i) => [name, i + 1, 'v', `expected ${DIM} values, got ${DIM - 1}`]));
      }
    },
  );
});

describe('errors in a thread name the file’s own row, byte and line', () => {
  // Row 400 is in the 3rd or 4th piece of 16 KiB; a second bad row later must not win.
  const bad = rows.map((r, i) => (i === 399 || i === 1200 ? { ...r, v: r.v.slice(1) } : r));
  const cases: [string, FileFormat, string, string | undefined, string][] = [
    ['jsonl', 'jsonl', jsonl(bad), undefined, 'bad.jsonl: row 400 (byte '],
    ['json', 'json', json(bad), undefined, 'bad.json: row 400 (byte '],
    ['csv', 'csv', tsv(bad), '\t', "bad.csv: row 400 (line 401), field 'v': "],
    ['quoted csv', 'csv', csvQuoted(bad), undefined, "bad.csv: row 400 (line 401), field 'v': "],
  ];
  it.each(cases)(
    '%s: a vector of 7 dims in row 400 fails as the serial reader does',
    async (_, format, text, sep, head) => {
      const name = `bad.${format}`;
      const input = byteInputFromBuffer(name, Buffer.from(text), 4096);
      const want = await serialError(format, input, sep);
      expect(want.message.startsWith(head)).toBe(true);
      expect(want.message).toContain("field 'v'");
      for (const threads of [1, 2, 4]) {
        const got = await stagedError(format, input, threads, sep);
        expect(got).toBeInstanceOf(FormatError);
        const fe = got as FormatError;
        expect([fe.code, fe.message, fe.details]).toEqual([want.code, want.message, want.details]);
      }
    },
  );

  it('jsonl: a syntax error in row 700 names the file’s byte offset', async () => {
    const lines = jsonl(rows).split('\n');
    lines[699] = lines[699]!.replace('"s":', '"s"');
    const input = byteInputFromBuffer('syn.jsonl', Buffer.from(lines.join('\n')), 4096);
    const want = await serialError('jsonl', input);
    expect(want.message).toMatch(/^syn\.jsonl: row 700 \(byte \d+\): /);
    const got = (await stagedError('jsonl', input, 2)) as FormatError;
    expect([got.code, got.message]).toEqual([want.code, want.message]);
  });

  it('json: a syntax error inside an element of a later piece names the file’s byte offset', async () => {
    const text = json(rows).replace(`"s":"row 900 ü"`, `"s":"row 900 ü",`);
    expect(text).not.toBe(json(rows));
    const input = byteInputFromBuffer('syn.json', Buffer.from(text), 4096);
    const want = await serialError('json', input);
    expect(want.message).toMatch(/^syn\.json: row 901 \(byte \d+\): /);
    const got = (await stagedError('json', input, 2)) as FormatError;
    expect([got.code, got.message]).toEqual([want.code, want.message]);
  });

  it('json: a syntax error in the last piece names the file’s byte offset', async () => {
    const text = json(rows).replace(`"s":"row 1498 ü"`, `"s":"row 1498 ü",`);
    expect(text).not.toBe(json(rows));
    const input = byteInputFromBuffer('last.json', Buffer.from(text), 4096);
    const want = await serialError('json', input);
    expect(want.message).toMatch(/^last\.json: row 1499 \(byte \d+\): /);
    const got = (await stagedError('json', input, 2)) as FormatError;
    expect([got.code, got.message]).toEqual([want.code, want.message]);
  });

  it('numpy: a value refused in row 1400 (a later row range) names the member file and the row', async () => {
    const spec = [
      { path: `${dir}/bad/id.npy`, dtype: '<i8', shape: [ROWS], data: rows.map((r) => r.id) },
      { path: `${dir}/bad/v.npy`, dtype: '<f4', shape: [ROWS, DIM], data: rows.flatMap((r) => r.v) },
      {
        path: `${dir}/bad/s.npy`,
        dtype: '<U80',
        shape: [ROWS],
        data: rows.map((r, i) => (i === 1399 ? 'x'.repeat(70) : r.s)),
      },
    ];
    mkdirSync(`${dir}/bad`);
    writeFileSync(join(dir, 'bad.json'), toJsonText(spec));
    execFileSync('python3', [resolve(__dirname, '../../fixtures/make_npy.py'), join(dir, 'bad.json')]);
    const inputs = ['id', 'v', 's'].map((f) =>
      byteInputFromBuffer(`bad/${f}.npy`, readFileSync(join(dir, 'bad', `${f}.npy`))),
    );
    let want: unknown;
    try {
      for await (const b of openFileGroup('numpy', inputs, SCHEMA, { batchRows: 100 }).batches())
        expect(b.rowCount).toBeGreaterThan(0);
    } catch (e) {
      want = e;
    }
    expect(want).toBeInstanceOf(FormatError);
    expect((want as FormatError).message).toMatch(/^bad\/s\.npy: row 1400, field 's': /);
    const t = await env.createCollection(SCHEMA);
    const got = await inTx((c) =>
      stageGroup(
        c,
        t,
        { format: 'numpy', inputs, schema: SCHEMA, readOptions: { batchRows: 100 }, layout: LAYOUT },
        { signal: new AbortController().signal, parseThreads: pools.get(2)!, pieceBytes: PIECE },
      ),
    ).catch((e: unknown) => e);
    expect(got).toBeInstanceOf(FormatError);
    expect([(got as FormatError).code, (got as FormatError).message]).toEqual([
      (want as FormatError).code,
      (want as FormatError).message,
    ]);
  });

  it('json: a missing comma between elements is reported as the serial reader does', async () => {
    const text = json(rows).replace(`"row 1001 ü","n":301},`, `"row 1001 ü","n":301}`);
    expect(text).not.toBe(json(rows));
    const input = byteInputFromBuffer('comma.json', Buffer.from(text), 4096);
    const want = await serialError('json', input);
    const got = (await stagedError('json', input, 2)) as FormatError;
    expect([got.code, got.message]).toEqual([want.code, want.message]);
  });
});

describe('sharing one pool', () => {
  it('a long streamed task of one job does not hold back another job’s pieces on a 1-thread pool', async () => {
    const pool = new ParsePool(1);
    try {
      const [ta, tb] = [await env.createCollection(SCHEMA), await env.createCollection(SCHEMA)];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      // A CSV with CR line ends is streamed whole through one thread; a blocked consumer stops its
      // reads and so keeps that task alive.
      const a = inTx((c) =>
        stageGroup(c, ta, groupInput('csv (CR line ends)', 20), {
          signal: new AbortController().signal,
          parseThreads: pool,
          maxQueuedBytes: 8 << 10,
          onRows: async () => {
            started();
            await gate;
          },
        }),
      );
      await running;
      const b = await inTx((c) =>
        stageGroup(c, tb, groupInput('jsonl'), {
          signal: new AbortController().signal,
          parseThreads: pool,
          pieceBytes: PIECE,
        }),
      );
      expect(b.rows).toBe(ROWS);
      release();
      expect((await a).rows).toBe(ROWS);
    } finally {
      await pool.close();
    }
  });
});

describe('abort and backpressure', () => {
  it('an abort mid-COPY rejects with SinkError(Aborted) and leaves the transaction ready for ROLLBACK', async () => {
    const t = await env.createCollection(SCHEMA);
    const c = await env.pool.connect();
    try {
      await c.query('BEGIN');
      const ac = new AbortController();
      let seen = 0;
      const err = await stageGroup(c, t, groupInput('jsonl', 50), {
        signal: ac.signal,
        parseThreads: pools.get(2)!,
        pieceBytes: PIECE,
        maxQueuedBytes: 8 << 10,
        onRows: (n) => {
          seen += n;
          if (seen >= 200) ac.abort();
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkError);
      expect((err as SinkError).code).toBe(SinkErrorCode.Aborted);
      await c.query('ROLLBACK');
      expect((await c.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
    expect(await env.count(t)).toBe(0);
  });

  it.each([0, 2])('an abort while the input hangs mid-file rejects at once (%i threads)', async (threads) => {
    const t = await env.createCollection(SCHEMA);
    const head = Buffer.from(jsonl(rows.slice(0, 300)));
    const hanging: ByteInput = {
      name: 'hang.jsonl',
      byteLength: head.length * 10,
      slice: () => new Promise<Uint8Array>(() => undefined),
      async *stream() {
        yield head;
        await new Promise<never>(() => undefined); // storage that stopped answering
      },
    };
    const c = await env.pool.connect();
    try {
      await c.query('BEGIN');
      const ac = new AbortController();
      const err = await stageGroup(
        c,
        t,
        { format: 'jsonl', inputs: [hanging], schema: SCHEMA, readOptions: { batchRows: 100 }, layout: LAYOUT },
        { signal: ac.signal, parseThreads: pools.get(threads) ?? null, pieceBytes: 4096, onRows: () => ac.abort() },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkError);
      expect((err as SinkError).code).toBe(SinkErrorCode.Aborted);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    expect(await env.count(t)).toBe(0);
  });

  it.each([0, 2])('a slow consumer keeps the queue within its byte bound (%i threads)', async (threads) => {
    const t = await env.createCollection(SCHEMA);
    const bound = 24 << 10;
    const r = await inTx((c) =>
      stageGroup(c, t, groupInput('jsonl', 20), {
        signal: new AbortController().signal,
        parseThreads: threads === 0 ? null : pools.get(threads)!,
        pieceBytes: PIECE,
        maxQueuedBytes: bound,
        onRows: () => new Promise((res) => setTimeout(res, 2)),
      }),
    );
    expect(r.rows).toBe(ROWS);
    // The producer ran ahead until the bound (it is faster than 2 ms a batch), never past it.
    expect(r.maxQueuedBytes).toBeGreaterThan(bound / 2);
    expect(r.maxQueuedBytes).toBeLessThanOrEqual(bound);
  });
});
