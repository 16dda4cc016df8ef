import { beforeAll, describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import {
  dictionaryRunPage,
  duckdbParquet,
  duckdbTagged,
  firstPageOffset,
  gzipZeros,
  numpyIds,
  numpyVectors,
  pageHeader,
  patchFirstDataPage,
  patchFirstPage,
  patchNpyHeader,
  snappyLyingPreamble,
  virtualBody,
  zstdRleBomb,
  type VirtualBody,
} from '../../../test/support/hostile-files';
import { parquetMetadata } from 'hyparquet';
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byteInputFromBuffer, type ByteInput } from './byte-input';
import { FormatErrorCode } from './formats.errors';
import { failure, readAll } from './spec-helpers';

/** Sizes declared by files are checked before they are allocated (decision 0801). */
const schema: CollectionSchema = {
  enableDynamicField: true,
  fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('vector', 'FloatVector', { dim: 4 })],
};

/** A ByteInput over a virtual body: slices and streams made on demand, never the whole. */
function virtualInput(name: string, body: VirtualBody, chunk = 1 << 20): ByteInput {
  return {
    name,
    byteLength: body.size,
    slice: async (start, end) => body.read(start, Math.min(end ?? body.size, body.size)),
    async *stream(from = 0) {
      for (let at = from; at < body.size; at += chunk) yield body.read(at, Math.min(body.size, at + chunk));
    },
  };
}

const vectors128: CollectionSchema = {
  enableDynamicField: false,
  fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('vec', 'FloatVector', { dim: 128 })],
};

/** DuckDB, `rows` rows of 128-d vectors whose values repeat with a period of 997 (zstd > 1000:1). */
async function duckdbVectors(rows: number): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'igw-regular-'));
  try {
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    await con.run(
      `COPY (SELECT i::BIGINT AS id, list_transform(range(128), k -> ((i * 31 + k) % 997)::FLOAT / 997) AS vec
               FROM range(0, ${rows}) t(i))
         TO '${dir}/r.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${rows})`,
    );
    con.closeSync();
    inst.closeSync();
    return readFileSync(join(dir, 'r.parquet'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const GiB2 = 2 ** 31 - 1;
const rows = 60_000;
let zstdFile: Buffer;
let snappyFile: Buffer;
let gzipFile: Buffer;

beforeAll(async () => {
  [zstdFile, snappyFile, gzipFile] = await Promise.all([
    duckdbParquet(rows, 'zstd'),
    duckdbParquet(rows, 'snappy'),
    duckdbParquet(rows, 'gzip'),
  ]);
}, 60_000);

async function parquetFailure(name: string, bytes: Buffer, maxPageBytes?: number) {
  return failure(
    readAll('parquet', [byteInputFromBuffer(name, bytes)], schema, maxPageBytes === undefined ? {} : { maxPageBytes }),
  );
}

describe('Parquet declared sizes', () => {
  it('refuses a page declaring 2 GiB uncompressed, naming file, column and size, before allocating it', async () => {
    const at = firstPageOffset(snappyFile, 'id');
    const body = snappyFile.subarray(at + 64, at + 64 + 1000);
    const file = patchFirstPage(
      snappyFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: GiB2, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('lie.parquet', file);
    expect(e.code).toBe(FormatErrorCode.TooLarge);
    expect(e.message).toBe(
      `lie.parquet: field 'id': page at byte ${at} declares ${GiB2} bytes uncompressed, more than IMPORT_MAX_PAGE_BYTES (268435456) (rows 1–1000, row group 1)`,
    );
  });

  it('holds a page to IMPORT_MAX_PAGE_BYTES as configured', async () => {
    const body = zstdRleBomb(2 << 20, true);
    const file = patchFirstPage(
      zstdFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 2 << 20, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('small-limit.parquet', file, 1 << 20);
    expect(e.message).toMatch(
      /field 'id': page at byte \d+ declares 2097152 bytes uncompressed, more than IMPORT_MAX_PAGE_BYTES \(1048576\)/,
    );
  });

  it('refuses a zstd page declaring more than 1024 times its stored size (a bomb)', async () => {
    const size = 200 << 20;
    const body = zstdRleBomb(size, true);
    const file = patchFirstPage(
      zstdFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: size, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('ratio.parquet', file);
    expect(e.code).toBe(FormatErrorCode.TooLarge);
    expect(e.message).toMatch(
      new RegExp(
        `^ratio\\.parquet: field 'id': page at byte \\d+ declares ${size} bytes uncompressed from ${body.length} stored bytes, more than 1024 times`,
      ),
    );
  });

  it('stops a zstd frame that expands past the size its page declares (2 GiB of RLE blocks in 64 KiB)', async () => {
    const body = zstdRleBomb(2 ** 31, false);
    const file = patchFirstPage(
      zstdFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 100_000, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('zstd-bomb.parquet', file);
    expect(e.code).toBe(FormatErrorCode.TooLarge);
    expect(e.message).toBe(
      `zstd-bomb.parquet: field 'id': zstd data expands to more than its page's 100000 bytes (rows 1–1000, row group 1)`,
    );
  });

  it('stops the same bomb in a page large enough to be decompressed while it streams in', async () => {
    const body = zstdRleBomb(2 ** 31, false);
    const file = patchFirstPage(
      zstdFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 16 << 20, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('zstd-stream-bomb.parquet', file);
    expect(e.message).toBe(
      `zstd-stream-bomb.parquet: field 'id': zstd data expands to more than its page's 16777216 bytes (rows 1–1000, row group 1)`,
    );
  });

  it('stops a zstd frame declaring a 2 GiB content size in a page that declares 100,000 bytes', async () => {
    const body = zstdRleBomb(2 ** 31 - 2, true);
    const file = patchFirstPage(
      zstdFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 100_000, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('zstd-frame.parquet', file);
    expect(e.message).toMatch(/field 'id': zstd frame declares a 2147483646-byte window, more than its page can need/);
  });

  it('stops a gzip page that inflates past the size it declares (256 MiB of zeros)', async () => {
    const body = await gzipZeros(256 << 20);
    const file = patchFirstPage(
      gzipFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 1 << 20, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('gzip-bomb.parquet', file);
    expect(e.code).toBe(FormatErrorCode.TooLarge);
    expect(e.message).toBe(
      `gzip-bomb.parquet: field 'id': page decompresses to more than its 1048576 bytes (rows 1–1000, row group 1)`,
    );
  }, 30_000);

  it('refuses snappy data whose own length preamble says more than its page declares', async () => {
    const body = snappyLyingPreamble(1 << 30);
    const file = patchFirstPage(
      snappyFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 1000, compressed: body.length, values: 100 }),
      body,
    );
    const e = await parquetFailure('snappy-lie.parquet', file);
    expect(e.message).toBe(
      `snappy-lie.parquet: field 'id': snappy data says 1073741824 bytes, the page header says 1000 (rows 1–1000, row group 1)`,
    );
  });

  it('refuses a page declaring 2^31 − 1 values (levels and indices would take 2–8 GiB)', async () => {
    const at = firstPageOffset(snappyFile, 'id');
    const body = snappyFile.subarray(at + 64, at + 64 + 1000);
    const file = patchFirstPage(
      snappyFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 1000, compressed: body.length, values: GiB2 }),
      body,
    );
    const e = await parquetFailure('values.parquet', file);
    expect(e.message).toBe(
      `values.parquet: field 'id': page at byte ${at} declares ${GiB2} values (${GiB2 * 2} bytes to decode), more than IMPORT_MAX_PAGE_BYTES (268435456) (rows 1–1000, row group 1)`,
    );
  });

  it('refuses a page of a flat column declaring more values than its row group has rows', async () => {
    const body = snappyFile.subarray(0, 1000);
    const file = patchFirstPage(
      snappyFile,
      'id',
      pageHeader({ type: 'DATA_PAGE', uncompressed: 1000, compressed: body.length, values: 30_000_000 }),
      body,
    );
    const e = await parquetFailure('rows.parquet', file);
    expect(e.message).toMatch(
      /field 'id': page at byte \d+ declares 30000000 values, more than the 60000 rows of its row group/,
    );
  });

  it('refuses a dictionary page declaring more values than its bytes hold', async () => {
    const body = snappyFile.subarray(0, 1000);
    const file = patchFirstPage(
      snappyFile,
      'id',
      pageHeader({ type: 'DICTIONARY_PAGE', uncompressed: 1000, compressed: body.length, values: 20_000_000 }),
      body,
    );
    const e = await parquetFailure('dict.parquet', file);
    expect(e.message).toMatch(
      /field 'id': page at byte \d+ declares 20000000 dictionary values, more than its 1000 bytes hold/,
    );
  });

  it('refuses a footer declaring more than the file holds, and a 600 MB footer in a 700 MB file', async () => {
    const past = Buffer.from(zstdFile);
    past.writeUInt32LE(zstdFile.length * 2, zstdFile.length - 8);
    const e1 = await parquetFailure('footer.parquet', past);
    expect(e1.code).toBe(FormatErrorCode.TooLarge);
    expect(e1.message).toBe(
      `footer.parquet: parquet footer declares ${zstdFile.length * 2} bytes, more than the ${zstdFile.length}-byte file holds`,
    );
    const tail = Buffer.alloc(8);
    tail.writeUInt32LE(600_000_000, 0);
    tail.write('PAR1', 4, 'latin1');
    const big = virtualBody(Buffer.from('PAR1'), 0, 700_000_000, tail);
    const e2 = await failure(readAll('parquet', [virtualInput('big.parquet', big)], schema));
    expect(e2.message).toBe(
      'big.parquet: parquet footer declares 600000000 bytes, more than the 67108864 a footer may take (IMPORT_MAX_PAGE_BYTES, at most 64 MiB)',
    );
  });

  it('holds the pages all columns of a row group decode at once to IMPORT_MAX_PAGE_BYTES', async () => {
    // Real pages, each within the limit, that together pass it: declared sizes multiplied by the
    // number of columns are bounded too.
    const meta = parquetMetadata(new Uint8Array(zstdFile));
    const chunk = (name: string): number =>
      Number(
        meta.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema[0] === name)!.meta_data!
          .total_uncompressed_size,
      );
    const limit = Math.max(chunk('id'), chunk('vector'));
    expect(chunk('id') + chunk('vector')).toBeGreaterThan(limit);
    const e = await parquetFailure('wide.parquet', zstdFile, limit);
    expect(e.code).toBe(FormatErrorCode.TooLarge);
    expect(e.message).toMatch(
      new RegExp(
        `^wide\\.parquet: field '(id|vector)': page at byte \\d+ declares \\d+ bytes uncompressed while the other columns of its row group hold \\d+: more than IMPORT_MAX_PAGE_BYTES \\(${limit}\\) at once`,
      ),
    );
    const ok = await readAll('parquet', [byteInputFromBuffer('wide.parquet', zstdFile)], schema, {
      maxPageBytes: chunk('id') + chunk('vector'),
    });
    expect(ok.reduce((a, b) => a + b.rowCount, 0)).toBe(rows);
  });

  it('reads a page of regular data compressed past 1024:1 when it decompresses to at most 64 MiB', async () => {
    // DuckDB, 16,384 rows of 128-d vectors with a period of 997: one 8 MiB page zstd makes ~7 KB.
    const bytes = await duckdbVectors(16_384);
    const batches = await readAll('parquet', [byteInputFromBuffer('regular.parquet', bytes)], vectors128);
    expect(batches.reduce((a, b) => a + b.rowCount, 0)).toBe(16_384);
  });

  it('clamps an RLE run of dictionary indices declaring 2^31 − 1 values to the page (no 2-billion-step loop)', async () => {
    const tagged = await duckdbTagged(3000);
    const body = dictionaryRunPage(100, GiB2);
    const file = patchFirstDataPage(
      tagged,
      'tag',
      pageHeader({
        type: 'DATA_PAGE',
        uncompressed: body.length,
        compressed: body.length,
        values: 100,
        dictionaryIndices: true,
      }),
      body,
    );
    const started = performance.now();
    const e = await parquetFailure('run.parquet', file);
    const ms = performance.now() - started;
    expect(e.message).toMatch(/^run\.parquet: field 'tag': /);
    // hyparquet's decoder stepped through all 2^31 − 1 indices: seconds of CPU.
    expect(ms).toBeLessThan(1000);
  });

  it('still reads the unpatched files', async () => {
    for (const f of [zstdFile, snappyFile, gzipFile]) {
      const batches = await readAll('parquet', [byteInputFromBuffer('ok.parquet', f)], schema);
      expect(batches.reduce((a, b) => a + b.rowCount, 0)).toBe(rows);
    }
  });
});

describe('NumPy declared sizes', () => {
  const idOnly: CollectionSchema = { enableDynamicField: true, fields: [fieldOf('id', 'Int64', { isPrimary: true })] };

  it('refuses a shape lying about its rows, naming file, field and the size it needs', async () => {
    const npy = patchNpyHeader(numpyIds(10), 'shape', '(1000000000,)');
    const e = await failure(readAll('numpy', [byteInputFromBuffer('g/id.npy', npy)], idOnly));
    expect(e.message).toBe(
      `g/id.npy: field 'id': file is truncated: 1000000000 rows need 8000000128 bytes, the file has ${npy.length}`,
    );
  });

  it('refuses a row wider than IMPORT_MAX_PAGE_BYTES before reading it', async () => {
    const npy = numpyVectors(2, 4);
    const lying = patchNpyHeader(npy, 'descr', '<U1000000');
    const head = lying.subarray(0, 128);
    const body = virtualBody(head, 0, 128 + 2 * 4_000_000);
    const e = await failure(
      readAll('numpy', [byteInputFromBuffer('g/id.npy', numpyIds(2)), virtualInput('g/wide.npy', body)], idOnly, {
        maxPageBytes: 1 << 20,
      }),
    );
    expect(e.code).toBe(FormatErrorCode.TooLarge);
    expect(e.message).toBe(
      `g/wide.npy: field 'wide': NumPy shape (2, 4) of '<U1000000' declares rows of 16000000 bytes, more than IMPORT_MAX_PAGE_BYTES (1048576)`,
    );
  });
});

describe('text that never ends', () => {
  it('fails a 1 GB JSON string at the row limit, naming file, row, byte offset and field', async () => {
    const head = Buffer.from('[{"id": 1, "vector": [1, 2, 3, 4], "name": "');
    const body = virtualBody(head, 0x61, head.length + 2 ** 30);
    const e = await failure(readAll('json', [virtualInput('big.json', body)], schema));
    expect(e.message).toBe(`big.json: row 1 (byte 1), field 'name': row is larger than 16777216 bytes`);
  });

  it('fails a JSONL line longer than the limit', async () => {
    const head = Buffer.from('{"id": 1, "vector": [1, 2, 3, 4]}\n{"id": 2, "pad": "');
    const body = virtualBody(head, 0x61, head.length + (40 << 20));
    const e = await failure(readAll('jsonl', [virtualInput('long.jsonl', body)], schema));
    expect(e.message).toBe(`long.jsonl: row 2 (byte 34), field 'pad': row is larger than 16777216 bytes`);
  });

  it('fails a CSV quoted field with no end, naming its column', async () => {
    const head = Buffer.from('id,vector,note\n1,"[1,2,3,4]",ok\n2,"[1,2,3,4]","never');
    const body = virtualBody(head, 0x62, head.length + (64 << 20));
    const e = await failure(readAll('csv', [virtualInput('open.csv', body)], schema));
    expect(e.message).toBe(`open.csv: row 2 (line 3), field 'note': row is larger than 16777216 bytes`);
  });
});
