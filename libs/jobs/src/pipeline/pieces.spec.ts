import { describe, expect, it } from 'vitest';
import { byteInputFromBuffer } from '@gw/formats';
import { planPieces, type Piece } from './pieces';

async function plan(format: 'json' | 'jsonl' | 'csv', text: string, pieceBytes: number): Promise<Piece[]> {
  const out: Piece[] = [];
  for await (const p of planPieces(format, [byteInputFromBuffer(`f.${format}`, Buffer.from(text), 7)], pieceBytes))
    out.push(p);
  return out;
}

const shipped = (p: Piece): string => {
  const i = p.inputs[0]!;
  return i.kind === 'bytes' ? Buffer.from(i.bytes).toString() : `<tail from ${i.from ?? 0}>`;
};

describe('planPieces', () => {
  it('cuts JSONL after line ends, each piece shifted by the lines before it (blank ones too)', async () => {
    const pieces = await plan('jsonl', '{"a":1}\n\n{"a":2}\n{"a":3}\n{"a":4}', 10);
    // 7-byte stream chunks: a cut falls at the last line end of the chunk that filled the piece.
    expect(pieces.map(shipped)).toEqual(['{"a":1}\n\n', '{"a":2}\n', '{"a":3}\n', '{"a":4}']);
    expect(pieces.map((p) => [p.shift.row, p.shift.byte])).toEqual([
      [0, 0],
      [2, 9],
      [3, 17],
      [4, 25],
    ]);
  });

  it('cuts a JSON rows array between elements and frames each piece as a document', async () => {
    const pieces = await plan('json', '{"rows": [{"a":"x,}"}, {"a":[1,2]} ,{"a":3}]}', 12);
    expect(pieces.map(shipped)).toEqual(['{"rows": [{"a":"x,}"}]}', '{"rows":[{"a":[1,2]} ]}', '{"rows":[{"a":3}]}']);
    expect(pieces.map((p) => [p.shift.row, p.shift.byte, p.shift.prefix])).toEqual([
      [0, 0, 0],
      [1, 23, 9],
      [2, 36, 9],
    ]);
  });

  it('repeats the CSV header in every piece after the first and counts only non-blank lines as rows', async () => {
    const pieces = await plan('csv', '\nid\n1\n\n2\n3\n4\n', 6);
    expect(pieces.map(shipped)).toEqual(['\nid\n1\n\n', 'id\n2\n3\n4\n']);
    // Thread line 2 is file line 5; thread row 1 is file row 2; thread byte 3 is file byte 7.
    expect(pieces.map((p) => [p.shift.row, p.shift.byte, p.shift.prefix, p.shift.line])).toEqual([
      [0, 0, 0, 0],
      [1, 7, 3, 3],
    ]);
  });

  it('cuts CSV only outside quotes, counting LFs inside quotes as lines and skipping blank records', async () => {
    const pieces = await plan('csv', 'id,s\n1,a\n2,"b\nc"\n3,"d""e"\n\n4,f\n', 8);
    expect(pieces.map(shipped)).toEqual(['id,s\n1,a\n', 'id,s\n2,"b\nc"\n', 'id,s\n3,"d""e"\n\n', 'id,s\n4,f\n']);
    // Row 4 ('4,f') is file line 7: thread line 2 + 5; the blank line 6 is no row.
    expect(pieces.map((p) => [p.shift.row, p.shift.byte, p.shift.line])).toEqual([
      [0, 0, 0],
      [1, 9, 1],
      [2, 17, 3],
      [3, 27, 5],
    ]);
  });

  it('cuts CRLF CSV with CRLF inside quoted fields', async () => {
    const pieces = await plan('csv', 'id,s\r\n1,"x\r\ny"\r\n2,b\r\n', 8);
    expect(pieces.map(shipped)).toEqual(['id,s\r\n', 'id,s\r\n1,"x\r\ny"\r\n2,b\r\n']);
    expect(pieces[1]!.shift).toEqual({ row: 0, byte: 6, prefix: 6, line: 0 });
  });

  it('reads a CSV file with a lone CR unsplit (CR alone also ends a record)', async () => {
    const pieces = await plan('csv', 'id,s\n1,a\r2,b\n', 8);
    expect(pieces.map(shipped)).toEqual(['<tail from 0>']);
  });

  it('reads a JSON document with an unexpected prelude unsplit', async () => {
    const pieces = await plan('json', '{"other": 1, "rows": [{"a":1},{"a":2}]}', 4);
    expect(pieces.map(shipped)).toEqual(['<tail from 0>']);
  });
});
