import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects, parquetSchema, type SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { getTreePath } from 'hyparquet/src/schema.js';
import { DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { byteInputFromBuffer } from './byte-input';
import { LeafColumnCursor, openRowGroupColumns, ParquetColumnError, ParquetStructureError } from './parquet-pages';

/** Typed arrays → plain arrays, recursively, so values compare whatever container decoded them. */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Rows of float vectors (or null) as one hex string of their float32 bytes: fast to compare. */
function digest(rows: readonly unknown[]): string {
  const h = createHash('sha256');
  for (const r of rows)
    h.update(r === null || r === undefined ? 'null;' : Buffer.from(Float32Array.from(r as ArrayLike<number>).buffer));
  return h.digest('hex');
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/** Every row, column by column, read window by window through openRowGroupColumns. */
async function readWindowed(bytes: Uint8Array, windowRows: number): Promise<Record<string, unknown>[]> {
  const metadata = parquetMetadata(arrayBufferOf(bytes));
  const tree = parquetSchema(metadata);
  const columns = tree.children.map((c) => c.element.name);
  const input = byteInputFromBuffer('t.parquet', bytes);
  const rows: Record<string, unknown>[] = [];
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const group = openRowGroupColumns({
      input,
      metadata,
      tree,
      rowGroup: g,
      columns,
      parsers: {},
      compressors,
      readAheadBytes: 4096, // small, so pages straddle read-ahead windows
      countBytes: () => undefined,
    });
    const n = Number(metadata.row_groups[g]!.num_rows);
    for (let at = 0; at < n; at += windowRows) {
      const take = Math.min(windowRows, n - at);
      const window = await group.take(take);
      // Copied at once: values may be views into a page buffer that the next take reuses.
      for (let k = 0; k < take; k++) rows.push(Object.fromEntries(columns.map((c) => [c, plain(window.get(c)![k])])));
    }
    await group.finish();
  }
  return rows;
}

async function reference(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: arrayBufferOf(bytes), compressors });
}

async function expectSameAsWholeFileDecode(bytes: Uint8Array): Promise<void> {
  const want = plain(await reference(bytes));
  for (const windowRows of [1, 7, 333, 5000]) {
    expect(plain(await readWindowed(bytes, windowRows)), `windows of ${windowRows} rows`).toEqual(want);
  }
}

const N = 3000;
const hyparquetSchema: SchemaElement[] = [
  { name: 'root', num_children: 6 },
  { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
  { name: 'name', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'flag', type: 'BOOLEAN', repetition_type: 'REQUIRED' },
  { name: 'vec', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
  { name: 'dense', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'DOUBLE', repetition_type: 'REQUIRED' },
  { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
];

function hyparquetFile(codec: 'SNAPPY' | 'UNCOMPRESSED'): Uint8Array {
  const buf = parquetWriteBuffer({
    schema: hyparquetSchema,
    codec,
    pageSize: 300, // many data pages per column chunk
    rowGroupSize: [1000, 1500, 500],
    columnData: [
      { name: 'id', data: BigInt64Array.from({ length: N }, (_, i) => BigInt(i) * 3_000_000_000n) },
      { name: 'name', data: Array.from({ length: N }, (_, i) => (i % 11 === 0 ? null : `name-${i % 5}`)) },
      { name: 'flag', data: Array.from({ length: N }, (_, i) => i % 3 === 0) },
      {
        name: 'vec',
        data: Array.from({ length: N }, (_, i) =>
          i % 13 === 0 ? null : i % 17 === 0 ? [] : [i / 8, i % 19 === 0 ? null : -i, 0.25],
        ),
      },
      {
        name: 'dense',
        data: Array.from({ length: N }, (_, i) => Array.from({ length: 1 + (i % 9) }, (_, k) => i + k / 10)),
      },
      { name: 'tags', data: Array.from({ length: N }, (_, i) => (i % 7 === 0 ? null : ['a', `t${i % 4}`])) },
    ],
  });
  return new Uint8Array(buf);
}

let dir = '';
async function duckdbFile(name: string, options: string): Promise<Uint8Array> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const path = join(dir, name);
  await c.run(
    `COPY (SELECT i::BIGINT AS id,
                  CASE WHEN i % 11 = 0 THEN NULL ELSE 'name-' || (i % 5) END AS name,
                  i % 3 = 0 AS flag,
                  CASE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN []::FLOAT[]
                       ELSE [i / 8, CASE WHEN i % 19 = 0 THEN NULL ELSE -i END, 0.25]::FLOAT[] END AS vec,
                  [i::FLOAT, 0.5, 1.5, i * 2]::FLOAT[] AS vec4,
                  [i::FLOAT, CASE WHEN i % 29 = 0 THEN NULL ELSE 0.5 END, 1.5]::FLOAT[] AS vec3n,
                  {'indices': [i % 100, 200]::UINTEGER[], 'values': [0.5, i]::FLOAT[]} AS sparse,
                  CASE WHEN i % 23 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS score
           FROM range(${N}) t(i))
     TO '${path}' (FORMAT parquet, ${options})`,
  );
  c.closeSync();
  inst.closeSync();
  return readFileSync(path);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pq-pages-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('page-at-a-time Parquet decoding equals hyparquet whole-file decoding', () => {
  it('hyparquet-writer files: v2 pages, many pages per chunk, dictionaries, nulls, empty lists (snappy)', async () => {
    await expectSameAsWholeFileDecode(hyparquetFile('SNAPPY'));
  });
  it('hyparquet-writer files, uncompressed', async () => {
    await expectSameAsWholeFileDecode(hyparquetFile('UNCOMPRESSED'));
  });
  it('DuckDB files: one v1 page per column chunk, zstd, structs, nullable lists', async () => {
    await expectSameAsWholeFileDecode(await duckdbFile('v1.parquet', 'COMPRESSION zstd, ROW_GROUP_SIZE 2048'));
  });
  it('DuckDB zstd, snappy and gzip pages larger than the read-ahead, decompressed as their bytes stream in', async () => {
    for (const [version, codec] of [
      ['V1', 'zstd'],
      ['V2', 'zstd'],
      ['V1', 'snappy'],
      ['V1', 'gzip'],
    ]) {
      const inst = await DuckDBInstance.create(':memory:');
      const c = await inst.connect();
      const path = join(dir, `big-${version}-${codec}.parquet`);
      await c.run(
        `COPY (SELECT i::BIGINT AS id, list_transform(range(64), x -> (random() - 0.5)::FLOAT) AS vec,
                      CASE WHEN i % 9 = 0 THEN NULL ELSE [i, -i]::DOUBLE[] END AS pair
               FROM range(6000) t(i))
         TO '${path}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 6000, PARQUET_VERSION ${version})`,
      );
      c.closeSync();
      inst.closeSync();
      await expectSameAsWholeFileDecode(readFileSync(path)); // vec: one 1.5 MB page, read-ahead 256 KiB
    }
    // DuckDB writes v1 pages even with PARQUET_VERSION V2; hyparquet-writer writes v2 ones (levels
    // stored uncompressed in front of the zstd values), compressed here by the zstd CLI.
    const n = 6000;
    const v2 = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
        { name: 'vec', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
      ],
      codec: 'ZSTD',
      compressors: {
        ZSTD: (bytes: Uint8Array) =>
          new Uint8Array(execFileSync('zstd', ['-q', '-c'], { input: bytes, maxBuffer: 64 << 20 })),
      },
      pageSize: 4 << 20,
      columnData: [
        { name: 'id', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) },
        {
          name: 'vec',
          data: Array.from({ length: n }, (_, i) =>
            i % 13 === 0 ? null : Array.from({ length: 64 }, (_, k) => Math.fround(Math.sin(i * 64 + k))),
          ),
        },
      ],
    });
    await expectSameAsWholeFileDecode(new Uint8Array(v2));
  });
  it('a corrupt large zstd or gzip page fails with the column named, and leaves nothing unhandled', async () => {
    // (Raw snappy carries no checksum: bytes flipped inside a literal decode as other values, with
    // any decoder. Snappy streams cut short are refused: snappy-stream.spec.ts.)
    for (const codec of ['zstd', 'gzip']) {
      const file = Uint8Array.from(readFileSync(join(dir, `big-V1-${codec}.parquet`)));
      const meta = parquetMetadata(arrayBufferOf(file)).row_groups[0]!.columns[1]!.meta_data!;
      const middle = Number(meta.data_page_offset) + Math.floor(Number(meta.total_compressed_size) / 2);
      file.fill(0xff, middle, middle + 64);
      const e = (await readWindowed(file, 1000).catch((x: unknown) => x)) as ParquetColumnError;
      expect(e, codec).toBeInstanceOf(ParquetColumnError);
      expect(e.column).toBe('vec');
    }
  });
  it('hands out the first rows of a large vector page before the page is read whole (snappy, zstd, gzip)', async () => {
    // The files of the test above: vec is one ~1.5 MB v1 page of 6,000 regular 64-d rows.
    for (const codec of ['snappy', 'zstd', 'gzip']) {
      const bytes = readFileSync(join(dir, `big-V1-${codec}.parquet`));
      const metadata = parquetMetadata(arrayBufferOf(bytes));
      const pageBytes = Number(metadata.row_groups[0]!.columns[1]!.meta_data!.total_compressed_size);
      let read = 0;
      const group = openRowGroupColumns({
        input: byteInputFromBuffer('t.parquet', bytes),
        metadata,
        tree: parquetSchema(metadata),
        rowGroup: 0,
        columns: ['vec'],
        parsers: {},
        compressors,
        readAheadBytes: 64 << 10,
        countBytes: (n) => {
          read += n;
        },
      });
      const want = plain((await reference(bytes)).map((r) => (r as { vec: unknown }).vec)) as unknown[];
      const first = plain(Array.from((await group.take(100)).get('vec')!));
      expect(first, codec).toEqual(want.slice(0, 100));
      expect(read, `${codec}: bytes read for the first 100 rows`).toBeLessThan(pageBytes / 2);
      const rest = plain(Array.from((await group.take(5900)).get('vec')!));
      expect(rest, codec).toEqual(want.slice(100));
      await group.finish();
      expect(read, codec).toBeGreaterThanOrEqual(pageBytes);
    }
  });
  it('decompresses a large vector page into a window that slides as rows are taken (snappy, zstd, gzip), not the whole page', async () => {
    // 40,000 regular 64-d rows: one ~10 MB v1 page; a nullable vector page of the same size that
    // cannot be taken progressively (its nulls) is decompressed whole, into the grown window.
    for (const codec of ['snappy', 'zstd', 'gzip']) {
      const inst = await DuckDBInstance.create(':memory:');
      const c = await inst.connect();
      const path = join(dir, `window-${codec}.parquet`);
      await c.run(
        `COPY (SELECT i::BIGINT AS id, list_transform(range(64), x -> (random() - 0.5)::FLOAT) AS vec,
                      CASE WHEN i % 1000 = 7 THEN NULL
                           ELSE list_transform(range(64), x -> (i * 64 + x)::FLOAT) END AS maybe
               FROM range(40000) t(i))
         TO '${path}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 40000)`,
      );
      c.closeSync();
      inst.closeSync();
      const bytes = readFileSync(path);
      const metadata = parquetMetadata(arrayBufferOf(bytes));
      const pageBytes = Number(metadata.row_groups[0]!.columns[1]!.meta_data!.total_uncompressed_size);
      expect(pageBytes).toBeGreaterThan(10e6);
      const ref = await reference(bytes);
      const want = digest(ref.map((r) => (r as { vec: unknown }).vec));
      const open = (columns: string[]) =>
        openRowGroupColumns({
          input: byteInputFromBuffer('t.parquet', bytes),
          metadata,
          tree: parquetSchema(metadata),
          rowGroup: 0,
          columns,
          parsers: {},
          compressors,
          readAheadBytes: 256 << 10,
          countBytes: () => undefined,
        });
      // Takes of 1,000 rows, then one of 12,000 (3 MB: the window grows to hold a take), then the rest.
      const group = open(['vec']);
      let peak = 0;
      const got: unknown[] = [];
      for (const n of [...Array<number>(20).fill(1000), 12_000, 8000]) {
        const vec = (await group.take(n)).get('vec')!;
        for (let k = 0; k < n; k++) got.push(Float32Array.from(vec[k] as ArrayLike<number>)); // the next take may overwrite views
        peak = Math.max(peak, group.pageBufferBytes);
        // Once the window has slid, the values are aligned in it: rows are views into it, not copies.
        if (got.length > 20_000) expect((vec[0] as Float32Array).buffer.byteLength, codec).toBe(group.pageBufferBytes);
      }
      await group.finish();
      expect(got.length, codec).toBe(40_000);
      expect(digest(got), codec).toBe(want);
      expect(peak, `${codec}: page buffer bytes`).toBeLessThan(pageBytes / 2);
      const whole = open(['maybe']);
      const maybe = Array.from((await whole.take(40_000)).get('maybe')!);
      const wantMaybe = ref.map((r) => (r as { maybe: unknown }).maybe);
      expect(wantMaybe.filter((v) => v === null || v === undefined)).toHaveLength(40);
      expect(digest(maybe), codec).toBe(digest(wantMaybe));
      expect(plain(maybe[8]), codec).toEqual(Array.from({ length: 64 }, (_, x) => 8 * 64 + x));
      expect(whole.pageBufferBytes, codec).toBeGreaterThan(pageBytes * 0.99); // the page less its header
      await whole.finish();
    }
  }, 60_000);
  it('several large pages per chunk stream through one reused buffer (zstd and snappy), rows in flight kept intact', async () => {
    const n = 6000;
    for (const codec of ['ZSTD', 'SNAPPY'] as const) {
      const file = parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 3 },
          { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
          { name: 'vec', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
          { name: 'blob', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
        ],
        codec,
        compressors: {
          ZSTD: (bytes: Uint8Array) =>
            new Uint8Array(execFileSync('zstd', ['-q', '-c'], { input: bytes, maxBuffer: 64 << 20 })),
        },
        pageSize: 400_000, // ~4 pages of vec per chunk, each above the 256 KiB read-ahead
        columnData: [
          { name: 'id', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) },
          {
            name: 'vec',
            data: Array.from({ length: n }, (_, i) =>
              Array.from({ length: 64 }, (_, k) => Math.fround(Math.cos(i * 64 + k))),
            ),
          },
          { name: 'blob', data: Array.from({ length: n }, (_, i) => Uint8Array.of(i & 255, 7, (i * 31) & 255)) },
        ],
      });
      await expectSameAsWholeFileDecode(new Uint8Array(file));
    }
  });
  it('hands a flat column without nulls out as its decoded page values, and one with nulls assembled', async () => {
    const bytes = await duckdbFile('flat.parquet', 'COMPRESSION zstd, ROW_GROUP_SIZE 2048');
    const metadata = parquetMetadata(arrayBufferOf(bytes));
    const group = openRowGroupColumns({
      input: byteInputFromBuffer('t.parquet', bytes),
      metadata,
      tree: parquetSchema(metadata),
      rowGroup: 0,
      columns: ['id', 'score'],
      parsers: {},
      compressors,
      readAheadBytes: 1 << 20,
      countBytes: () => undefined,
    });
    const window = await group.take(100);
    expect(window.get('id')).toBeInstanceOf(BigInt64Array);
    expect(Array.from(window.get('id')!)).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)));
    expect(Array.isArray(window.get('score'))).toBe(true);
    expect(window.get('score')!.slice(22, 24)).toEqual([33, null]);
  });
  it('DuckDB files with PARQUET_VERSION V2 (data page v2, delta encodings), gzip', async () => {
    await expectSameAsWholeFileDecode(
      await duckdbFile('v2.parquet', 'COMPRESSION gzip, ROW_GROUP_SIZE 1024, PARQUET_VERSION V2'),
    );
  });
});

/** The `vec` values of one row group's first `n` rows, as openRowGroupColumns hands them out. */
async function vecRows(bytes: Uint8Array, rowGroup: number, n: number): Promise<unknown[]> {
  const metadata = parquetMetadata(arrayBufferOf(bytes));
  const group = openRowGroupColumns({
    input: byteInputFromBuffer('t.parquet', bytes),
    metadata,
    tree: parquetSchema(metadata),
    rowGroup,
    columns: ['vec'],
    parsers: {},
    compressors,
    readAheadBytes: 16 << 20,
    countBytes: () => undefined,
  });
  return Array.from((await group.take(n)).get('vec')!);
}

/**
 * list<float> columns whose pages have rows of one length take the fast path (rows are Float32Array
 * views, found by arithmetic); pages with a null, an empty list or a ragged row take hyparquet's
 * assembly. Both must give what hyparquet's whole-file decoding gives.
 */
describe('vector pages: the regular-row fast path equals the general path', () => {
  /** 16-d vectors in groups of 2,048 rows; group 1 has a ragged row, group 2 a null element, group 3 a null and an empty list. */
  const duckdbVectors = async (name: string, options: string): Promise<Uint8Array> => {
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    const path = join(dir, name);
    await c.run(
      `COPY (SELECT i::BIGINT AS id,
                    CASE WHEN i = 2053 THEN [1, 2, 3]::FLOAT[]
                         WHEN i = 4103 THEN list_transform(range(16), x -> CASE WHEN x = 5 THEN NULL ELSE (i * 16 + x) / 7 END)::FLOAT[]
                         WHEN i = 6153 THEN NULL
                         WHEN i = 6200 THEN []::FLOAT[]
                         ELSE list_transform(range(16), x -> ((i * 16 + x) / 7)::FLOAT) END AS vec,
                    list_transform(range(8), x -> (i * 8 + x) / 3)::DOUBLE[] AS dvec
             FROM range(10240) t(i))
       TO '${path}' (FORMAT parquet, ${options}, ROW_GROUP_SIZE 2048)`,
    );
    c.closeSync();
    inst.closeSync();
    return readFileSync(path);
  };

  it('DuckDB v1 and v2 files, zstd, snappy, gzip and uncompressed', async () => {
    for (const options of [
      'COMPRESSION zstd',
      'COMPRESSION snappy',
      'COMPRESSION gzip',
      'COMPRESSION uncompressed',
      'COMPRESSION zstd, PARQUET_VERSION V2',
    ]) {
      const bytes = await duckdbVectors(`vectors-${options.replace(/\W+/g, '-')}.parquet`, options);
      await expectSameAsWholeFileDecode(bytes);
      // Pages without nulls give typed-array rows (all but the last row of a page, which a next v1
      // page could continue): found by arithmetic when regular (regularRowLength), by a scan of the
      // repetition levels with the ragged row. Pages with a null element, a null or an empty list
      // take hyparquet's assembly, whose rows are plain arrays of numbers.
      const paths = await Promise.all(
        [0, 1, 2, 3, 4].map(async (g) => {
          const rows = await vecRows(bytes, g, 2048);
          const fast = rows.filter((r) => r instanceof Float32Array).length;
          return fast === 2047 && !(rows[2047] instanceof Float32Array) ? 'fast' : fast === 0 ? 'general' : fast;
        }),
      );
      expect(paths, options).toEqual(['fast', 'fast', 'general', 'general', 'fast']);
    }
  });

  it('hyparquet-writer v2 pages, many per chunk, rows of one take spread over several unaligned pages', async () => {
    const n = 3000;
    for (const codec of ['SNAPPY', 'UNCOMPRESSED'] as const) {
      const file = parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 2 },
          { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
          { name: 'vec', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
        ],
        codec,
        pageSize: 5000, // ~75 rows of 16-d per page: a window of 333 rows spans 5 pages
        columnData: [
          { name: 'id', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) },
          {
            name: 'vec',
            data: Array.from({ length: n }, (_, i) =>
              i === 1500 ? [0.5] : Array.from({ length: 16 }, (_, k) => Math.fround(Math.sin(i * 16 + k))),
            ),
          },
        ],
      });
      await expectSameAsWholeFileDecode(new Uint8Array(file));
    }
  });

  it('dictionary-encoded floats take the general path and decode the same', async () => {
    const n = 2000;
    const file = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'vec', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
      ],
      codec: 'SNAPPY',
      pageSize: 8000,
      columnData: [
        {
          name: 'vec',
          data: Array.from({ length: n }, (_, i) => Array.from({ length: 8 }, (_, k) => (i + k) % 10)),
          encoding: 'RLE_DICTIONARY',
        },
      ],
    });
    const bytes = new Uint8Array(file);
    expect(parquetMetadata(arrayBufferOf(bytes)).row_groups[0]!.columns[0]!.meta_data!.encodings).toContain(
      'RLE_DICTIONARY',
    );
    await expectSameAsWholeFileDecode(bytes);
    expect((await vecRows(bytes, 0, 10)).some((r) => r instanceof Float32Array)).toBe(false);
  });
});

/** A hand-made column chunk: v1 data pages of a REQUIRED list<REQUIRED float>, where a row spans pages. */
describe('rows continued across v1 data pages', () => {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 1 },
    { name: 'vec', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
  ];
  const metadata = parquetMetadata(parquetWriteBuffer({ schema, columnData: [{ name: 'vec', data: [[1]] }] }));
  const schemaPath = getTreePath(parquetSchema(metadata), ['vec', 'list', 'element']);

  const zigzag = (n: number): number => n * 2; // all values here are small and positive
  /** A DATA_PAGE (v1, PLAIN values, RLE levels) in thrift compact form, levels bit-packed at width 1. */
  function page(rep: number[], values: number[]): Uint8Array {
    const packed = (levels: number[]): number[] => {
      let byte = 0;
      levels.forEach((l, i) => (byte |= l << i));
      return [2, 0, 0, 0, 0x03, byte]; // length 2; header 0x03 = one bit-packed group of 8
    };
    const defRun = [2, 0, 0, 0, zigzag(values.length), 0x01]; // RLE run of 1s
    const body = [...packed(rep), ...defRun];
    const vals = new Uint8Array(new Float32Array(values).buffer);
    const size = body.length + vals.length;
    const header = [
      0x15,
      0x00, // type DATA_PAGE
      0x15,
      zigzag(size), // uncompressed_page_size
      0x15,
      zigzag(size), // compressed_page_size
      0x2c, // field 5: data_page_header
      0x15,
      zigzag(rep.length), // num_values
      0x15,
      0x00, // encoding PLAIN
      0x15,
      zigzag(3), // definition_level_encoding RLE
      0x15,
      zigzag(3), // repetition_level_encoding RLE
      0x00,
      0x00,
    ];
    return Uint8Array.from([...header, ...body, ...vals]);
  }
  /** A cursor over `bytes` as one column chunk; a read-ahead of 7 is smaller than a page header. */
  function cursorOver(bytes: Uint8Array, readAhead = 7): LeafColumnCursor {
    return new LeafColumnCursor(
      byteInputFromBuffer('t.parquet', bytes),
      {
        pathInSchema: ['vec', 'list', 'element'],
        type: 'FLOAT',
        element: schemaPath[schemaPath.length - 1]!.element,
        schemaPath,
        codec: 'UNCOMPRESSED',
        parsers: DEFAULT_PARSERS,
      },
      0,
      bytes.length,
      readAhead,
      () => undefined,
    );
  }
  const cursor = (...pages: Uint8Array[]): LeafColumnCursor => cursorOver(Buffer.concat(pages));
  // Rows [1,2,3], [4,5,6], [7,8]; the second starts on page 1 and ends on page 2.
  const page1 = page([0, 1, 1, 0, 1], [1, 2, 3, 4, 5]);
  const page2 = page([1, 0, 1], [6, 7, 8]);

  it('assembles the row that spans the two pages, one row at a time or all at once', async () => {
    const one = cursor(page1, page2);
    expect(plain(await one.take(1))).toEqual([[1, 2, 3]]);
    expect(plain(await one.take(1))).toEqual([[4, 5, 6]]);
    expect(plain(await one.take(1))).toEqual([[7, 8]]);
    await one.finish();
    expect(plain(await cursor(page1, page2).take(3))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  it('refuses a chunk with more rows than the footer, fewer rows, or a page continuing nothing', async () => {
    const more = cursor(page1, page2);
    await more.take(2);
    await expect(more.finish()).rejects.toThrow(
      new ParquetStructureError("column 'vec.list.element' has more rows than the footer says"),
    );
    await expect(cursor(page1, page2).take(4)).rejects.toThrow(
      "column 'vec.list.element' ends 1 rows before the row count in the footer",
    );
    await expect(cursor(page2).take(1)).rejects.toThrow(
      "column 'vec.list.element': a page continues a row that was never started",
    );
  });

  it('refuses a page that runs past its column chunk, and a header cut short', async () => {
    const cut = Buffer.concat([page1, page2]).subarray(0, page1.length + 20); // page 2's header is 17 bytes
    const c = cursorOver(cut, 1 << 20);
    await expect(c.take(3)).rejects.toThrow(/page of 24 bytes runs past the column chunk/);
    const headerCut = Buffer.concat([page1, page2]).subarray(0, page1.length + 10);
    const d = cursorOver(headerCut, 1 << 20);
    await expect(d.take(3)).rejects.toThrow(/unreadable page header at byte 49/);
  });
});
