import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldOf, RowBatchBuilder, type CollectionSchema, type Column, type RowBatch } from '@gw/schema';
import { CsvByteSplitter, Utf8StreamValidator } from './csv-bytes';
import { csvCellValue, CsvRecordSplitter } from './csv-reader';
import { FastRowParser } from './fast-json';
import { FormatError } from './formats.errors';
import { columnValues, failure, readAll, textInput } from './spec-helpers';

/** Chunks of `b` of the given sizes (cycled). */
function chunksOf(b: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0, k = 0; i < b.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

type Outcome = { records: { cells: string[]; line: number }[] } | { error: string };

/** The string splitter over streaming-decoded text, as the reader ran before. */
function viaText(b: Uint8Array, sizes: readonly number[], sep: string): Outcome {
  const s = new CsvRecordSplitter('f.csv', sep, () => 0);
  const d = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const records: { cells: string[]; line: number }[] = [];
  try {
    for (const c of chunksOf(b, sizes)) {
      s.push(d.decode(c, { stream: true }));
      records.push(...s.take());
    }
    s.push(d.decode(new Uint8Array(0)));
    s.end();
    records.push(...s.take());
    return { records };
  } catch (e) {
    if (e instanceof FormatError) return { error: e.message };
    throw e;
  }
}

function viaBytes(b: Uint8Array, sizes: readonly number[], sep: string): Outcome {
  const s = new CsvByteSplitter('f.csv', sep.charCodeAt(0), () => 0);
  const d = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const records: { cells: string[]; line: number }[] = [];
  const take = (): void => {
    for (const r of s.take()) records.push({ cells: r.cells.map((c) => d.decode(c)), line: r.line });
  };
  try {
    for (const c of chunksOf(b, sizes)) {
      s.push(c);
      take();
    }
    s.end();
    take();
    return { records };
  } catch (e) {
    if (e instanceof FormatError) return { error: e.message };
    throw e;
  }
}

const csvText = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.constantFrom('a', 'b1', 'é', '😀', '\ufeff', ',', ';', '"', '""', '\r', '\n', '\r\n', ' ', '[1.5,2]'), {
      maxLength: 40,
    }),
  )
  .map(([bom, parts]) => (bom ? '\ufeff' : '') + parts.join(''));
const sizes = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 });

describe('CsvByteSplitter', () => {
  it('cuts the same records, cells and lines as the text splitter, or fails with the same message', () => {
    fc.assert(
      fc.property(csvText, sizes, fc.constantFrom(',', ';', '\t'), (text, sz, sep) => {
        const b = Buffer.from(text, 'utf8');
        expect(viaBytes(b, sz, sep)).toEqual(viaText(b, sz, sep));
      }),
      { numRuns: 5_000 },
    );
  });

  it('drops a BOM split over chunks but keeps a U+FEFF that is data', () => {
    const b = Buffer.from('\ufeffa,\ufeffb\n', 'utf8');
    expect(viaBytes(b, [1], ',')).toEqual({ records: [{ cells: ['a', '\ufeffb'], line: 1 }] });
    // EF BB 80 is U+FEC0, not a BOM: the held-back bytes are data.
    const notBom = Buffer.from('\ufec0a\n', 'utf8');
    expect(viaBytes(notBom, [1], ',')).toEqual({ records: [{ cells: ['\ufec0a'], line: 1 }] });
    expect(viaBytes(notBom, [2], ',')).toEqual(viaText(notBom, [2], ','));
  });
});

describe('Utf8StreamValidator', () => {
  /** Index of the chunk a streaming fatal TextDecoder throws on (chunks.length for the end), or -1. */
  function decoderFailsAt(chunks: readonly Uint8Array[]): number {
    const d = new TextDecoder('utf-8', { fatal: true });
    for (let k = 0; k < chunks.length; k++) {
      try {
        d.decode(chunks[k], { stream: true });
      } catch {
        return k;
      }
    }
    try {
      d.decode(new Uint8Array(0));
    } catch {
      return chunks.length;
    }
    return -1;
  }

  function validatorFailsAt(chunks: readonly Uint8Array[]): number {
    const v = new Utf8StreamValidator();
    for (let k = 0; k < chunks.length; k++) if (!v.push(chunks[k]!)) return k;
    return v.end() ? -1 : chunks.length;
  }

  it('fails on exactly the chunk a streaming fatal TextDecoder throws on', () => {
    const text = fc.string({ unit: 'binary', maxLength: 30 }).map((s) => Buffer.from(s, 'utf8'));
    const junk = fc.uint8Array({ maxLength: 6 });
    const bytes = fc
      .array(fc.oneof(text, text, junk), { maxLength: 6 })
      .map((parts) => new Uint8Array(Buffer.concat(parts)));
    fc.assert(
      fc.property(bytes, sizes, (b, sz) => {
        const chunks = chunksOf(b, sz);
        expect(validatorFailsAt(chunks)).toBe(decoderFailsAt(chunks));
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('CSV reader on bytes', () => {
  const schema: CollectionSchema = {
    enableDynamicField: false,
    fields: [
      fieldOf('id', 'Int64', { isPrimary: true }),
      fieldOf('name', 'VarChar', { maxLength: 20, nullable: true }),
      fieldOf('vec', 'FloatVector', { dim: 2 }),
    ],
  };

  it('reads vectors, non-ASCII names and nullkey cells through the byte path', async () => {
    const text = 'id,name,vec\n1,"né ""x""","[0.2639320194721222, -1e-3]"\n2,NULL,"[3,4]"\n3,😀,"[1,2]"\n';
    const batches = await readAll('csv', [textInput('f.csv', text, 3)], schema, { nullkey: 'NULL' });
    expect(columnValues(batches, 'name')).toEqual(['né "x"', null, '😀']);
    expect(columnValues(batches, 'vec')).toEqual([
      [Math.fround(0.2639320194721222), Math.fround(-1e-3)],
      [3, 4],
      [1, 2],
    ]);
  });

  it('names the file byte of invalid UTF-8 and the row being read, as before', async () => {
    const b = Buffer.concat([
      Buffer.from('id,name,vec\n1,a,"[1,2]"\n2,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',"[1,2]"\n'),
    ]);
    const e = await failure(readAll('csv', [textInput('f.csv', b, 64)], schema));
    expect(e.message).toBe('f.csv: row 1 (byte 26): invalid UTF-8');
  });

  it('reads with a non-ASCII separator through the text path', async () => {
    const batches = await readAll('csv', [textInput('f.csv', 'id§name§vec\n1§a§[1,2]\n', 5)], schema, { sep: '§' });
    expect(columnValues(batches, 'name')).toEqual(['a']);
  });
});

describe('FastRowParser.tryCsvByteRecord', () => {
  const schema: CollectionSchema = {
    enableDynamicField: false,
    fields: [
      fieldOf('id', 'Int64', { isPrimary: true }),
      fieldOf('f', 'Float', { nullable: true }),
      fieldOf('name', 'VarChar', { maxLength: 6, defaultValue: 'dflt' }),
      fieldOf('vec', 'FloatVector', { dim: 3 }),
    ],
  };
  const fields = schema.fields;
  const num = fc.oneof(
    fc.float({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.double({ noNaN: true }).map(String),
    fc.constantFrom('1e39', '-0', '0.1', 'x', '', '1.', '00.5'),
  );
  const cell = [
    fc.oneof(
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
      fc.maxSafeNat().map(String),
      fc.constantFrom('1.5', '', 'N', ' 1', '007', '0', '-0', '+5', '999999999999999', '1000000000000000'),
    ),
    fc.oneof(num, fc.constantFrom('N', ' 2', '+1')),
    fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('N', 'é😀', '\ufeffa')),
    fc.oneof(
      fc.array(num, { minLength: 2, maxLength: 4 }).map((a) => ` [${a.join(', ')}]\n`),
      fc.constantFrom('N', '[1,2,3', '[1,2,3]x', '[null,1,2]', '[1,2,"3"]'),
    ),
  ] as const;
  const plain = (b: RowBatch): unknown =>
    [...(b.columns as Map<string, Column>)].map(([k, c]) => [
      k,
      'values' in c && ArrayBuffer.isView(c.values) ? Array.from(c.values as unknown as ArrayLike<unknown>) : c,
    ]);

  it('stores exactly what the general path stores, or declines having stored nothing', () => {
    const d = new TextDecoder('utf-8', { ignoreBOM: true });
    fc.assert(
      fc.property(fc.tuple(...cell), (cells) => {
        const general = new RowBatchBuilder(schema, 1);
        let ref: RowBatch | null;
        try {
          const obj: Record<string, unknown> = {};
          fields.forEach((f, k) => (obj[f.name] = csvCellValue(f, cells[k]!, 'N')));
          general.addRow(obj);
          ref = general.flush('f', 1);
        } catch {
          ref = null;
        }
        const b = new RowBatchBuilder(schema, 1);
        const fast = FastRowParser.forSchema(schema, b)!;
        const bytes = cells.map((c) => Buffer.from(c, 'utf8'));
        const ok = fast.tryCsvByteRecord(
          fields,
          bytes,
          'N',
          Buffer.from('N'),
          (x) => d.decode(x),
          (f, t) => csvCellValue(f, t, 'N'),
        );
        if (!ok) expect(b.rowCount).toBe(0);
        else {
          expect(ref).not.toBeNull();
          expect(plain(b.flush('f', 1))).toEqual(plain(ref!));
        }
      }),
      { numRuns: 5_000 },
    );
  });
});
