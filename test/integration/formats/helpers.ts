import { join } from 'node:path';
import { byteInputFromFile, openFileGroup, type ByteInput, type FileFormat, type ReadOptions } from '@gw/formats';
import type { CollectionSchema, RowBatch } from '@gw/schema';

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

// One implementation for unit and fixture tests.
export { columnValues } from '../../../libs/formats/src/spec-helpers';
