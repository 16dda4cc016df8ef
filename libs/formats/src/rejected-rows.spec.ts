import { describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import type { RejectedRow } from './reader';
import { columnValues, failure, readAll, textInput } from './spec-helpers';
import { MAX_RAW_BYTES, rawText } from './text';

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('name', 'VarChar', { maxLength: 5 }),
    fieldOf('vec', 'FloatVector', { dim: 2 }),
  ],
};

/** Reads with error_mode=continue: the batches' ids and the rejections. */
async function keepGoing(
  format: 'csv' | 'json' | 'jsonl',
  name: string,
  text: string,
  batchRows = 1000,
): Promise<{ ids: unknown[]; rejected: RejectedRow[] }> {
  const rejected: RejectedRow[] = [];
  const batches = await readAll(format, [textInput(name, text, 5)], schema, {
    batchRows,
    onRejectedRow: (r) => rejected.push(r),
  });
  return { ids: columnValues(batches, 'id'), rejected };
}

describe('error_mode=continue in the readers', () => {
  it('CSV: skips refused rows, naming file, data row, field, reason and the raw cell', async () => {
    const text = 'id,name,vec\n1,a,"[1,2]"\n2,toolong,"[1,2]"\n3,b,"[1,2]"\n4,c,"[1]"\n5,d,"[5,6]"\n';
    const { ids, rejected } = await keepGoing('csv', 'f.csv', text, 2);
    expect(ids).toEqual([1n, 3n, 5n]);
    expect(rejected).toEqual([
      { file: 'f.csv', row: 2, field: 'name', reason: expect.stringContaining('length') as string, raw: 'toolong' },
      { file: 'f.csv', row: 4, field: 'vec', reason: 'expected 2 values, got 1', raw: '[1]' },
    ]);
  });

  it('JSONL: a missing field shows the whole row as raw value; JSON arrays the same', async () => {
    const lines = '{"id":1,"name":"a","vec":[1,2]}\n{"id":2,"vec":[1,2],"name":null}\n{"id":3,"name":"b"}\n';
    const a = await keepGoing('jsonl', 'f.jsonl', lines);
    expect(a.ids).toEqual([1n]);
    expect(a.rejected.map((r) => [r.row, r.field])).toEqual([
      [2, 'name'],
      [3, 'vec'],
    ]);
    expect(a.rejected[1]!.raw).toBe('{"id":3,"name":"b"}');
    const b = await keepGoing(
      'json',
      'f.json',
      '{"rows":[{"id":1,"name":"a","vec":[1,2]},{"id":"x","name":"b","vec":[1,2]}]}',
    );
    expect(b.ids).toEqual([1n]);
    expect(b.rejected.map((r) => [r.file, r.row, r.field, r.raw])).toEqual([['f.json', 2, 'id', 'x']]);
  });

  it('without the option the first refused row still fails the read', async () => {
    const e = await failure(readAll('csv', [textInput('f.csv', 'id,name,vec\n1,toolong,"[1,2]"\n')], schema));
    expect(e.message).toContain("f.csv: row 1 (line 2), field 'name'");
  });

  it('syntax errors are not row rejections: they still fail the read', async () => {
    const rejected: RejectedRow[] = [];
    const e = await failure(
      readAll('jsonl', [textInput('f.jsonl', '{"id":1,"name":"a","vec":[1,2]}\n{"id":\n')], schema, {
        onRejectedRow: (r) => rejected.push(r),
      }),
    );
    expect(e.code).toBe('SYNTAX');
    expect(rejected).toEqual([]);
  });

  it('raw values are cut to 1 KiB of UTF-8, never inside a character', () => {
    const cut = rawText('é'.repeat(2000));
    expect(Buffer.byteLength(cut, 'utf8')).toBe(MAX_RAW_BYTES);
    expect(cut).toBe('é'.repeat(512));
    expect(Buffer.byteLength(rawText('a'.repeat(5000)), 'utf8')).toBe(MAX_RAW_BYTES);
    expect(rawText(12n)).toBe('12');
    expect(rawText(new Float32Array([1, 2]))).toBe('[1,2]');
  });
});
