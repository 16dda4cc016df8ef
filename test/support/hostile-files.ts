/**
 * Crafted hostile files (issue 13 point 1, decision 0801): real writer output (DuckDB Parquet,
 * numpy .npy) patched in code so that a size it declares lies, plus text that never ends. Each
 * case says which reader error it must end in. Large cases are *virtual*: their bytes are made on
 * demand from a few parts (a 1 GB JSON string is never held), for a ByteInput or the loopback
 * HTTP test server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata } from 'hyparquet';

/** Bytes made on demand: `size` bytes, `read(start, end)` any range of them. */
export interface VirtualBody {
  readonly size: number;
  read(start: number, end: number): Buffer;
}

/** A body of parts, the last of which may repeat one byte up to `size` (or a filler pattern). */
export function virtualBody(head: Buffer, fill: number, size: number, tail: Buffer = Buffer.alloc(0)): VirtualBody {
  const tailAt = size - tail.length;
  return {
    size,
    read(start, end) {
      const stop = Math.min(end, size);
      const out = Buffer.alloc(Math.max(0, stop - start), fill);
      if (start < head.length) head.copy(out, 0, start, Math.min(head.length, stop));
      if (stop > tailAt) {
        const from = Math.max(start, tailAt);
        tail.copy(out, from - start, from - tailAt, stop - tailAt);
      }
      return out;
    },
  };
}

// --- Thrift compact encoding of a Parquet PageHeader (parquet.thrift), enough to craft one. ---

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

class CompactWriter {
  readonly bytes: number[] = [];
  private last: number[] = [0];

  i32(id: number, v: number): this {
    this.field(id, 5);
    this.bytes.push(...varint(zigzag(v)));
    return this;
  }
  bool(id: number, v: boolean): this {
    return this.field(id, v ? 1 : 2);
  }
  begin(id: number): this {
    this.field(id, 12);
    this.last.push(0);
    return this;
  }
  end(): this {
    this.bytes.push(0);
    this.last.pop();
    return this;
  }
  private field(id: number, type: number): this {
    const delta = id - this.last[this.last.length - 1]!;
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else this.bytes.push(type, ...varint(zigzag(id)));
    this.last[this.last.length - 1] = id;
    return this;
  }
}

const PLAIN = 0;
const RLE = 3;
const RLE_DICTIONARY = 8;

/** A DATA_PAGE (v1) or DICTIONARY_PAGE header with the sizes and count given. */
export function pageHeader(h: {
  type: 'DATA_PAGE' | 'DICTIONARY_PAGE';
  uncompressed: number;
  compressed: number;
  values: number;
  /** Data page values are dictionary indices (RLE_DICTIONARY), not PLAIN. */
  dictionaryIndices?: boolean;
}): Buffer {
  const w = new CompactWriter();
  w.i32(1, h.type === 'DATA_PAGE' ? 0 : 2)
    .i32(2, h.uncompressed)
    .i32(3, h.compressed);
  const encoding = h.dictionaryIndices === true ? RLE_DICTIONARY : PLAIN;
  if (h.type === 'DATA_PAGE') w.begin(5).i32(1, h.values).i32(2, encoding).i32(3, RLE).i32(4, RLE).end();
  else w.begin(7).i32(1, h.values).i32(2, PLAIN).end();
  w.end();
  return Buffer.from(w.bytes);
}

// --- Real writers ---

/** A DuckDB Parquet file of `rows` rows (random int64 `id`, 4-d `vector`), in one row group. */
export async function duckdbParquet(rows: number, codec: 'zstd' | 'snappy' | 'gzip'): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'igw-hostile-'));
  try {
    const file = join(dir, 'base.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    // Random ids do not compress: the id chunk keeps room for a crafted page in place.
    await con.run(
      `COPY (SELECT (random() * 9e18)::BIGINT AS id, [i::FLOAT, 0.5::FLOAT, (-i)::FLOAT, 0.25::FLOAT] AS vector
               FROM range(0, ${rows}) t(i))
         TO '${file}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE ${rows})`,
    );
    con.closeSync();
    inst.closeSync();
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The file with the first page of column `column` (row group 0) replaced by `header` + `body`,
 * written in place: the chunk keeps its size in the footer and the bytes after the crafted page
 * are left as they were (the reader must refuse the crafted page before it gets there).
 */
export function patchFirstPage(file: Buffer, column: string, header: Buffer, body: Buffer): Buffer {
  const meta = parquetMetadata(new Uint8Array(file));
  const chunk = meta.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema[0] === column)!.meta_data!;
  const start = Number(chunk.dictionary_page_offset || chunk.data_page_offset);
  const span = Number(chunk.total_compressed_size);
  if (header.length + body.length > span)
    throw new Error(`crafted page of ${header.length + body.length} bytes does not fit the ${span}-byte chunk`);
  const out = Buffer.from(file);
  header.copy(out, start);
  body.copy(out, start + header.length);
  return out;
}

/**
 * The file with the first *data* page of `column` (after its dictionary page) replaced in place,
 * as patchFirstPage does for the first page.
 */
export function patchFirstDataPage(file: Buffer, column: string, header: Buffer, body: Buffer): Buffer {
  const meta = parquetMetadata(new Uint8Array(file));
  const chunk = meta.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema[0] === column)!.meta_data!;
  const at = Number(chunk.data_page_offset);
  const end = Number(chunk.dictionary_page_offset || chunk.data_page_offset) + Number(chunk.total_compressed_size);
  if (at + header.length + body.length > end) throw new Error('crafted data page does not fit its chunk');
  const out = Buffer.from(file);
  header.copy(out, at);
  body.copy(out, at + header.length);
  return out;
}

/**
 * The body of a v1 data page of an OPTIONAL column: `values` definition levels of 1 (one RLE
 * run), then dictionary indices of 2 bits as one RLE run declaring `run` values.
 */
export function dictionaryRunPage(values: number, run: number): Buffer {
  const def = [...varint(values * 2), 1];
  const defLength = Buffer.alloc(4);
  defLength.writeUInt32LE(def.length, 0);
  return Buffer.concat([defLength, Buffer.from(def), Buffer.from([2, ...varint(run * 2), 0])]);
}

/** A DuckDB Parquet file (uncompressed) of `rows` rows with a 3-value `tag` column DuckDB dictionary-encodes. */
export async function duckdbTagged(rows: number): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'igw-hostile-'));
  try {
    const file = join(dir, 'tagged.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    await con.run(
      `COPY (SELECT i::BIGINT AS id, [i::FLOAT, 0.5::FLOAT, (-i)::FLOAT, 0.25::FLOAT] AS vector, 'tag-' || (i % 3) AS tag
               FROM range(0, ${rows}) t(i))
         TO '${file}' (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE ${rows})`,
    );
    con.closeSync();
    inst.closeSync();
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The byte offset of the first page of `column` in row group 0 (where a crafted header goes). */
export function firstPageOffset(file: Buffer, column: string): number {
  const meta = parquetMetadata(new Uint8Array(file));
  const chunk = meta.row_groups[0]!.columns.find((c) => c.meta_data?.path_in_schema[0] === column)!.meta_data!;
  return Number(chunk.dictionary_page_offset || chunk.data_page_offset);
}

/**
 * A zstd frame of RLE blocks expanding to `bytes` zeros (4 bytes of input per 128 KiB of output:
 * 2 GiB from 64 KiB), with or without its content size in the frame header.
 */
export function zstdRleBomb(bytes: number, declareSize: boolean): Buffer {
  const parts: number[] = [0x28, 0xb5, 0x2f, 0xfd];
  if (declareSize) {
    // Single segment, 8-byte content size.
    parts.push(0xe0);
    for (let k = 0; k < 8; k++) parts.push(Math.floor(bytes / 2 ** (8 * k)) & 0xff);
  } else {
    parts.push(0x00, 0x38); // window descriptor: 128 KiB window, no content size
  }
  const block = 128 * 1024;
  for (let left = bytes; left > 0; left -= block) {
    const size = Math.min(block, left);
    const last = left <= block ? 1 : 0;
    const h = last | (1 << 1) | (size << 3); // RLE block
    parts.push(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0);
  }
  return Buffer.from(parts);
}

/** Gzip of `bytes` zeros (deflate tops out near 1:1032, so 512 MiB fits in ~0.5 MB), streamed. */
export async function gzipZeros(bytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((ok, fail) => {
    gz.on('end', ok);
    gz.on('error', fail);
  });
  const zeros = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= zeros.length) {
    if (!gz.write(left >= zeros.length ? zeros : zeros.subarray(0, left)))
      await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(out);
}

/** A raw snappy block whose length preamble says `says` bytes, followed by one short literal. */
export function snappyLyingPreamble(says: number): Buffer {
  return Buffer.from([...varint(says), 0x0c, 1, 2, 3, 4]); // literal of 4 bytes
}

/** A .npy file written by numpy: int64 ids 1..rows. */
export function numpyIds(rows: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'igw-hostile-npy-'));
  try {
    execFileSync('python3', [
      '-c',
      `import numpy as np, sys; np.save(sys.argv[1], np.arange(1, ${rows + 1}, dtype='<i8'))`,
      join(dir, 'id.npy'),
    ]);
    return readFileSync(join(dir, 'id.npy'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A .npy file written by numpy: float32 vectors, rows × dim. */
export function numpyVectors(rows: number, dim: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'igw-hostile-npy-'));
  try {
    execFileSync('python3', [
      '-c',
      `import numpy as np, sys; np.save(sys.argv[1], np.ones((${rows}, ${dim}), dtype='<f4'))`,
      join(dir, 'vector.npy'),
    ]);
    return readFileSync(join(dir, 'vector.npy'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A numpy header with one field of its dict replaced (`'shape': (…)` or `'descr': '…'`), padded
 * to the same length so the data stays where it was.
 */
export function patchNpyHeader(npy: Buffer, key: 'shape' | 'descr', value: string): Buffer {
  const major = npy[6]!;
  const start = major === 1 ? 10 : 12;
  const len = major === 1 ? npy.readUInt16LE(8) : npy.readUInt32LE(8);
  const text = npy.subarray(start, start + len).toString('latin1');
  const re = key === 'shape' ? /'shape':\s*\([^)]*\)/ : /'descr':\s*'[^']*'/;
  const next = text.replace(re, key === 'shape' ? `'shape': ${value}` : `'descr': '${value}'`).trimEnd();
  if (next.length + 1 > len) throw new Error('patched numpy header does not fit');
  const padded = next + ' '.repeat(len - next.length - 1) + '\n';
  return Buffer.concat([npy.subarray(0, start), Buffer.from(padded, 'latin1'), npy.subarray(start + len)]);
}
