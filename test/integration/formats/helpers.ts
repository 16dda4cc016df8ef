import { join } from 'node:path';
import { byteInputFromFile, openFileGroup, type ByteInput, type FileFormat, type ReadOptions } from '@gw/formats';
import type { CollectionSchema, Column, RowBatch } from '@gw/schema';

export async function inputsOf(dir: string, files: readonly string[]): Promise<ByteInput[]> {
  return Promise.all(files.map((f) => byteInputFromFile(join(dir, f), f)));
}

export async function readGroup(
  format: FileFormat,
  inputs: readonly ByteInput[],
  schema: CollectionSchema,
  opts: Partial<ReadOptions> = {},
): Promise<RowBatch[]> {
  const reader = openFileGroup(format, inputs, schema, { batchRows: 700, ...opts });
  const out: RowBatch[] = [];
  for await (const b of reader.batches()) out.push(b);
  return out;
}

/** A column's per-row values as plain JS values (vectors as arrays, NULL as null). */
export function columnValues(batches: readonly RowBatch[], name: string): unknown[] {
  const out: unknown[] = [];
  for (const b of batches) {
    const c: Column | undefined = b.columns.get(name);
    if (c === undefined) throw new Error(`no column ${name}`);
    for (let i = 0; i < b.rowCount; i++) {
      switch (c.kind) {
        case 'bool':
        case 'int32':
        case 'int64':
        case 'float32':
        case 'float64':
          out.push(c.valid !== null && c.valid[i] === 0 ? null : c.kind === 'bool' ? c.values[i] === 1 : c.values[i]);
          break;
        case 'text':
        case 'array':
          out.push(c.values[i]);
          break;
        case 'floatVector':
          out.push(Array.from(c.values.subarray(i * c.dim, (i + 1) * c.dim)));
          break;
        case 'bytes':
          out.push(Array.from(c.values.subarray(i * c.width, (i + 1) * c.width)));
          break;
      }
    }
  }
  return out;
}
