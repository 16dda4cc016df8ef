import { describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { columnValues, failure, readAll, textInput } from './spec-helpers';
import { MAX_ROW_BYTES } from './text';

const schema: CollectionSchema = {
  enableDynamicField: true,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('name', 'VarChar', { maxLength: 20 }),
    fieldOf('vec', 'FloatVector', { dim: 2 }),
  ],
};

describe('JSON reader', () => {
  it('reads {"rows":[…]} split into tiny chunks, with int64 beyond 2^53 exact and extras in $meta', async () => {
    const text =
      '\ufeff{ "Rows" : [ {"id": 9007199254740993, "name": "a\\"]}", "vec": [0.5, 1]},\n {"id": 2, "name": "é", "vec": [1,2], "x": {"k": [1]}} ] }';
    const batches = await readAll('json', [textInput('f.json', text, 3)], schema);
    expect(columnValues(batches, 'id')).toEqual([9007199254740993n, 2n]);
    expect(columnValues(batches, 'name')).toEqual(['a"]}', 'é']);
    expect(columnValues(batches, 'vec')).toEqual([
      [0.5, 1],
      [1, 2],
    ]);
    expect(batches[0]!.meta).toEqual(['{}', '{"x":{"k":[1]}}']);
  });

  it('reads a top-level array in batches of the requested size with 1-based first rows', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => `{"id":${i},"name":"n","vec":[1,2]}`);
    const batches = await readAll('json', [textInput('f.json', `[${rows.join(',')}]`)], schema, { batchRows: 2 });
    expect(batches.map((b) => [b.firstRow, b.rowCount])).toEqual([
      [1, 2],
      [3, 2],
      [5, 1],
    ]);
  });

  it('keeps string and bracket tracking right inside arrays that start with a number', async () => {
    const text = '[{"id":1,"name":"a","vec":[1,2],"x":[1,"]{["],"y":[2,[3]]},{"id":2,"name":"b","vec":[3,4]}]';
    const batches = await readAll('json', [textInput('f.json', text, 1 << 20)], schema);
    expect(columnValues(batches, 'id')).toEqual([1n, 2n]);
    expect(batches[0]!.meta).toEqual(['{"x":[1,"]{["],"y":[2,[3]]}', '{}']);
  });

  it('skips a BOM split across one-byte chunks', async () => {
    const batches = await readAll('json', [textInput('f.json', '\ufeff[{"id":1,"name":"a","vec":[1,2]}]', 1)], schema);
    expect(columnValues(batches, 'id')).toEqual([1n]);
  });

  it('imports 0 rows from an empty file and from an empty rows array', async () => {
    expect(await readAll('json', [textInput('e.json', '')], schema)).toEqual([]);
    expect(await readAll('json', [textInput('e.json', ' {"rows": []} ')], schema)).toEqual([]);
  });

  it('refuses a document that is neither {"rows":[…]} nor an array', async () => {
    const e = await failure(readAll('json', [textInput('f.json', '{"data": []}')], schema));
    expect(e.message).toBe('f.json: byte 9: invalid JSON format: expected {"rows":[…]} or [ … ]');
  });

  it('names row, byte offset and field for a wrong dimension in the middle of the file', async () => {
    const text = '[{"id":1,"name":"a","vec":[1,2]},\n{"id":2,"name":"b","vec":[1]}]';
    const e = await failure(readAll('json', [textInput('f.json', text)], schema));
    expect(e.message).toBe("f.json: row 2 (byte 34), field 'vec': expected 2 values, got 1");
    expect(e.details).toMatchObject({ file: 'f.json', row: 2, byte: 34, field: 'vec' });
  });

  it('gives the byte offset of a syntax error inside a row', async () => {
    const text = '[{"id":1,"name":"é","vec":[1,NaN]}]';
    const e = await failure(readAll('json', [textInput('f.json', text)], schema));
    expect(e.message).toBe("f.json: row 1 (byte 30): unexpected character 'N'");
  });

  it('reports an unterminated string at the end of a truncated file', async () => {
    const e = await failure(readAll('json', [textInput('f.json', '[{"id":1,"name":"abc')], schema));
    expect(e.message).toBe('f.json: row 1 (byte 20): unterminated string');
  });

  it('refuses a row that is not an object', async () => {
    const e = await failure(readAll('json', [textInput('f.json', '[{"id":1,"name":"a","vec":[1,2]}, 5]')], schema));
    expect(e.message).toBe('f.json: row 2 (byte 34): each row must be a JSON object');
  });
});

describe('JSON Lines reader', () => {
  it('counts rows by line, skipping blank lines and accepting CRLF', async () => {
    const text = '{"id":1,"name":"a","vec":[1,2]}\r\n\r\n   \n{"id":2,"name":"b","vec":[3,4]}';
    const batches = await readAll('jsonl', [textInput('f.jsonl', text, 5)], schema);
    expect(columnValues(batches, 'id')).toEqual([1n, 2n]);
  });

  it('names the line of a bad row', async () => {
    const text = '{"id":1,"name":"a","vec":[1,2]}\n\n{"id":2,"name":"b","vec":[3,4],"id":3}\n';
    const e = await failure(readAll('jsonl', [textInput('f.jsonl', text)], schema));
    expect(e.message).toBe("f.jsonl: row 3 (byte 64): duplicate key 'id'");
  });

  it('refuses invalid UTF-8 with its byte offset', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"id":1,"name":"a'),
      Buffer.from([0xff]),
      Buffer.from('","vec":[1,2]}\n'),
    ]);
    const e = await failure(readAll('jsonl', [textInput('f.jsonl', bytes)], schema));
    expect(e.message).toBe('f.jsonl: row 1 (byte 17): invalid UTF-8');
  });

  it('stops buffering a line longer than MAX_ROW_BYTES instead of holding it', async () => {
    const big = new Uint8Array(MAX_ROW_BYTES + 10).fill(0x61);
    big[0] = 0x22;
    const e = await failure(readAll('jsonl', [textInput('f.jsonl', big, 1 << 20)], schema));
    expect(e.message).toBe(`f.jsonl: row 1 (byte 0): row is larger than ${MAX_ROW_BYTES} bytes`);
  });
});
