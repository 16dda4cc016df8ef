import type { CollectionSchema, Column, RowBatch } from '@gw/schema';
import { byteInputFromBuffer, type ByteInput } from './byte-input';
import type { FileFormat } from './format-of';
import { FormatError } from './formats.errors';
import { openFileGroup } from './open-file-group';
import type { ReadOptions } from './reader';

/** Test helper (not exported by index.ts): reads a whole group into batches. */
export async function readAll(
  format: FileFormat,
  inputs: readonly ByteInput[],
  schema: CollectionSchema,
  opts: Partial<ReadOptions> = {},
): Promise<RowBatch[]> {
  const reader = openFileGroup(format, inputs, schema, { batchRows: 1000, ...opts });
  const out: RowBatch[] = [];
  for await (const b of reader.batches()) out.push(b);
  return out;
}

export function textInput(name: string, text: string | Uint8Array, chunkSize = 7): ByteInput {
  return byteInputFromBuffer(name, typeof text === 'string' ? Buffer.from(text, 'utf8') : text, chunkSize);
}

/** The FormatError message a read fails with. */
export async function failure(p: Promise<unknown>): Promise<FormatError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  }
  throw new Error('expected the read to fail');
}

/** A column's values as plain JS values per row (vectors as arrays), for comparisons. */
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
