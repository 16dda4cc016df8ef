import type { CollectionSchema } from '@gw/schema';
import type { ByteInput } from './byte-input';
import { openCsvReader } from './csv-reader';
import type { FileFormat } from './format-of';
import { FormatError, FormatErrorCode } from './formats.errors';
import { openJsonReader } from './json-reader';
import { openNumpyReader } from './numpy-reader';
import { openParquetReader } from './parquet-reader';
import type { FileGroupReader, ReadOptions } from './reader';

/** The one entry point: a reader for a file group of the given format (see formatOf). */
export function openFileGroup(
  format: FileFormat,
  inputs: readonly ByteInput[],
  schema: CollectionSchema,
  opts: ReadOptions,
): FileGroupReader {
  if (format !== 'numpy' && inputs.length !== 1)
    throw new FormatError(
      FormatErrorCode.UnsupportedFileType,
      { file: inputs[0]?.name ?? '' },
      `a ${format} file group holds exactly one file, got ${inputs.length}`,
    );
  const input = inputs[0]!;
  switch (format) {
    case 'json':
      return openJsonReader(input, schema, opts, false);
    case 'jsonl':
      return openJsonReader(input, schema, opts, true);
    case 'csv':
      return openCsvReader(input, schema, opts);
    case 'numpy':
      return openNumpyReader(inputs, schema, opts);
    case 'parquet':
      return openParquetReader(input, schema, opts);
  }
}
