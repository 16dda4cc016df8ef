import { parquetMetadataAsync, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, DecodedArray, FileMetaData, ParquetParsers, SchemaTree } from 'hyparquet';
import { META_FIELD, RowBatchBuilder, type CollectionSchema, type FieldSchema, type RowBatch } from '@gw/schema';
import type { ByteInput } from './byte-input';
import { FormatError, FormatErrorCode } from './formats.errors';
import { boundedCompressors, DecompressedSizeError } from './bounded-decompress';
import { MAX_FOOTER_BYTES, maxPageBytesOf, tooLarge } from './limits';
import {
  openRowGroupColumns,
  ParquetColumnError,
  ParquetDeclaredSizeError,
  type RowGroupColumns,
} from './parquet-pages';
import type { FileGroupReader, ReadOptions } from './reader';
import { firstInvalidUtf8, rejectOrThrow } from './text';

/** Codecs formats.md §5 promises; anything else is refused naming the codec before reading data. */
const SUPPORTED_CODECS = new Set(['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD', 'LZ4_RAW', 'BROTLI']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Read-ahead shared by the leaf columns of a row group (each gets 256 KiB–8 MiB of it). */
const READ_AHEAD_BYTES = 16 << 20;

class InvalidUtf8InParquet extends Error {
  constructor(readonly offset: number) {
    super('invalid UTF-8');
  }
}

function strictUtf8(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new InvalidUtf8InParquet(firstInvalidUtf8(b));
  }
}

/** Strings decoded strictly; JSON kept as text so the schema validator parses it exactly (int64, duplicate keys). */
const parsers: Partial<ParquetParsers> = { stringFromBytes: strictUtf8, jsonFromBytes: strictUtf8 };

/** hyparquet's AsyncBuffer over a ByteInput, counting bytes for progress. */
function asyncBufferOf(input: ByteInput, count: (n: number) => void): AsyncBuffer {
  return {
    byteLength: input.byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const u8 = await input.slice(start, end);
      count(u8.length);
      if (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength && u8.buffer instanceof ArrayBuffer)
        return u8.buffer;
      // Copy: a Buffer's slice() is a view, and its .buffer may be the shared allocation pool.
      return new Uint8Array(u8).buffer;
    },
  };
}

interface Leaf {
  readonly type: string;
  readonly bits: number;
  readonly signed: boolean;
  readonly text: boolean;
  readonly listDepth: number;
}

/** The leaf under a column (through LIST wrappers), or null for a struct with several children. */
function leafOf(tree: SchemaTree, outerDepth = 0): Leaf | null {
  const e = tree.element;
  // Lists nest as REPEATED levels whatever their encoding (3-level LIST or legacy 2-level).
  const listDepth = outerDepth + (e.repetition_type === 'REPEATED' ? 1 : 0);
  if (tree.children.length === 0) {
    const lt = e.logical_type;
    const ct = e.converted_type;
    let bits = e.type === 'INT64' ? 64 : e.type === 'INT32' ? 32 : 0;
    let signed = true;
    if (lt?.type === 'INTEGER') {
      bits = lt.bitWidth;
      signed = lt.isSigned;
    } else if (ct !== undefined && /^U?INT_(8|16|32|64)$/.test(ct)) {
      bits = Number(ct.replace(/^U?INT_/, ''));
      signed = !ct.startsWith('U');
    }
    const text = e.type === 'BYTE_ARRAY' && (lt === undefined || lt.type === 'STRING' || lt.type === 'JSON');
    return { type: e.type ?? 'GROUP', bits, signed, text, listDepth };
  }
  if (tree.children.length === 1) return leafOf(tree.children[0]!, listDepth);
  return null;
}

function intFits(leaf: Leaf, fieldBits: number): boolean {
  if (leaf.type !== 'INT32' && leaf.type !== 'INT64') return false;
  return leaf.signed ? leaf.bits <= fieldBits : leaf.bits < fieldBits;
}

/** Whole-file type check of a column against its field (formats.md §3), from metadata only. */
function checkColumn(file: string, f: FieldSchema, tree: SchemaTree): void {
  const leaf = leafOf(tree);
  const describe =
    leaf === null
      ? 'struct'
      : `${leaf.listDepth > 0 ? 'list<' : ''}${leaf.type}${leaf.bits && leaf.type !== 'FLOAT' && leaf.type !== 'DOUBLE' ? `(${leaf.signed ? 'int' : 'uint'}${leaf.bits})` : ''}${leaf.listDepth > 0 ? '>' : ''}`;
  const bad = (): FormatError =>
    new FormatError(
      FormatErrorCode.ColumnType,
      { file, field: f.name },
      `parquet column type ${describe} cannot hold a ${f.dataType} field`,
    );
  if (f.dataType === 'SparseFloatVector') {
    if (leaf === null || (leaf.listDepth === 0 && leaf.text)) return;
    throw bad();
  }
  if (leaf === null) throw bad();
  const scalar = leaf.listDepth === 0;
  const isFloat = leaf.type === 'FLOAT' || leaf.type === 'DOUBLE';
  switch (f.dataType) {
    case 'Bool':
      if (!(scalar && leaf.type === 'BOOLEAN')) throw bad();
      return;
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
      if (!(scalar && intFits(leaf, { Int8: 8, Int16: 16, Int32: 32, Int64: 64 }[f.dataType]))) throw bad();
      return;
    case 'Float':
    case 'Double':
      if (!(scalar && isFloat)) throw bad();
      return;
    case 'VarChar':
    case 'JSON':
      if (!(scalar && leaf.text)) throw bad();
      return;
    case 'FloatVector':
      if (!(leaf.listDepth === 1 && isFloat)) throw bad();
      return;
    case 'BinaryVector':
      if (!(leaf.listDepth === 1 && (leaf.type === 'INT32' || leaf.type === 'INT64'))) throw bad();
      return;
    case 'Float16Vector':
    case 'BFloat16Vector':
      if (!(leaf.listDepth === 1 && (isFloat || leaf.type === 'INT32'))) throw bad();
      return;
    case 'Array':
      if (leaf.listDepth !== 1) throw bad();
      return;
  }
}

type Role = 'field' | 'meta' | 'extra' | 'skip';

/**
 * list<uint8> holding raw little-endian half/bfloat16 bytes (what BulkWriter writes) arrives as an
 * array of numbers; hand it to the validator as bytes so it is not taken for dim numbers.
 */
function rawBytes(v: unknown): unknown {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255))
    return v;
  return Uint8Array.from(v as number[]);
}

interface Prepared {
  readonly metadata: FileMetaData;
  readonly columns: string[];
  /** Per-column value conversions applied before validation. */
  readonly transforms: readonly (readonly [string, (v: unknown) => unknown])[];
}

/**
 * Parquet via hyparquet over the ByteInput: footer first, then one row group at a time with only
 * the needed columns (docs/decisions/0202-parquet-library.md).
 */
export function openParquetReader(input: ByteInput, schema: CollectionSchema, opts: ReadOptions): FileGroupReader {
  const file = input.name;
  const maxPageBytes = maxPageBytesOf(opts);
  let consumed = 0;
  const buffer = asyncBufferOf(input, (n) => (consumed += n));
  let meta: Promise<Prepared> | null = null;

  const prepare = async (): Promise<Prepared> => {
    if (input.byteLength < 12)
      throw new FormatError(FormatErrorCode.Corrupt, { file }, 'not a parquet file: too short');
    const tail = await input.slice(input.byteLength - 8);
    const magic = Buffer.from(tail.subarray(4)).toString('latin1');
    if (magic === 'PARE')
      throw new FormatError(FormatErrorCode.Unsupported, { file }, 'encrypted parquet files are not supported');
    if (magic !== 'PAR1') throw new FormatError(FormatErrorCode.Corrupt, { file }, 'not a parquet file: wrong magic');
    // The footer is read whole and parsed into objects several times its size: its declared
    // length is checked before hyparquet allocates it.
    const footerBytes = new DataView(tail.buffer, tail.byteOffset, 8).getUint32(0, true);
    const footerLimit = Math.min(MAX_FOOTER_BYTES, maxPageBytes);
    if (footerBytes > input.byteLength - 12)
      throw tooLarge(
        { file },
        `parquet footer declares ${footerBytes} bytes, more than the ${input.byteLength}-byte file holds`,
      );
    if (footerBytes > footerLimit)
      throw tooLarge(
        { file },
        `parquet footer declares ${footerBytes} bytes, more than the ${footerLimit} a footer may take (IMPORT_MAX_PAGE_BYTES, at most 64 MiB)`,
      );
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (e) {
      throw new FormatError(FormatErrorCode.Corrupt, { file }, `invalid parquet footer: ${(e as Error).message}`, e);
    }
    const tree = parquetSchema(metadata);
    const byName = new Map(schema.fields.map((f) => [f.name, f]));
    const columns: string[] = [];
    const transforms: [string, (v: unknown) => unknown][] = [];
    for (const child of tree.children) {
      const name = child.element.name;
      const f = byName.get(name);
      let role: Role;
      if (f !== undefined) {
        if (f.isPrimary && f.autoId)
          throw new FormatError(
            FormatErrorCode.UnknownColumn,
            { file, field: name },
            `the primary key '${name}' is auto-generated, no need to provide`,
          );
        checkColumn(file, f, child);
        if ((f.dataType === 'Float16Vector' || f.dataType === 'BFloat16Vector') && leafOf(child)?.type === 'INT32')
          transforms.push([name, rawBytes]);
        role = 'field';
      } else if (schema.enableDynamicField) role = name === META_FIELD ? 'meta' : 'extra';
      else if (opts.ignoreUnknownFields) role = 'skip';
      else
        throw new FormatError(
          FormatErrorCode.UnknownColumn,
          { file, field: name },
          `field '${name}' is not defined in the schema`,
        );
      if (role !== 'skip') columns.push(name);
    }
    for (const rg of metadata.row_groups) {
      for (const c of rg.columns) {
        const codec = c.meta_data?.codec;
        if (codec !== undefined && !SUPPORTED_CODECS.has(codec))
          throw new FormatError(
            FormatErrorCode.Unsupported,
            { file, field: c.meta_data?.path_in_schema[0] ?? '' },
            `unsupported parquet codec ${codec}`,
          );
      }
    }
    return { metadata, columns, transforms };
  };
  const ready = (): Promise<Prepared> => (meta ??= prepare());

  return {
    totalBytes: input.byteLength,
    bytesConsumed: () => consumed,
    totalRows: async () => Number((await ready()).metadata.num_rows),
    async *batches(): AsyncIterable<RowBatch> {
      const { metadata, columns, transforms } = await ready();
      const tree = parquetSchema(metadata);
      // The builder caps its rows by batchBytes too (RowBatchBuilder.capacity).
      const builder = new RowBatchBuilder(schema, opts.batchRows, opts);
      // Decode in windows no larger than a batch, so memory follows the batch, not the row group.
      const windowRows = Math.max(1, Math.min(builder.capacity, 8192));
      let groupStart = 0;
      let emitted = 0;
      for (let g = 0; g < metadata.row_groups.length; g++) {
        const n = Number(metadata.row_groups[g]!.num_rows);
        const decodeError = (e: unknown, from: number, to: number): FormatError => {
          if (e instanceof FormatError) return e;
          const field = e instanceof ParquetColumnError ? e.column : undefined;
          const cause = e instanceof ParquetColumnError ? e.cause : e;
          const where = field === undefined ? { file } : { file, field };
          if (cause instanceof ParquetDeclaredSizeError || cause instanceof DecompressedSizeError)
            return tooLarge(where, `${cause.message} (rows ${from + 1}–${to}, row group ${g + 1})`);
          if (cause instanceof InvalidUtf8InParquet)
            return new FormatError(
              FormatErrorCode.Syntax,
              where,
              `invalid UTF-8 in a string of rows ${from + 1}–${to}`,
            );
          return new FormatError(
            FormatErrorCode.Corrupt,
            where,
            `cannot decode rows ${from + 1}–${to} (row group ${g + 1}): ${(cause as Error).message}`,
            cause,
          );
        };
        let group: RowGroupColumns;
        try {
          group = openRowGroupColumns({
            input,
            metadata,
            tree,
            rowGroup: g,
            columns,
            parsers,
            compressors: boundedCompressors,
            readAheadBytes: READ_AHEAD_BYTES,
            maxPageBytes,
            countBytes: (k) => (consumed += k),
          });
        } catch (e) {
          throw decodeError(e, groupStart, groupStart + n);
        }
        for (let at = 0; at < n; at += windowRows) {
          const take = Math.min(windowRows, n - at);
          let window: Map<string, DecodedArray>;
          try {
            window = await group.take(take);
          } catch (e) {
            throw decodeError(e, groupStart + at, groupStart + at + take);
          }
          const names = group.names;
          const data = names.map((name) => window.get(name)!);
          // One row object for the whole window: addRow copies the values out and keeps no reference.
          const row: Record<string, unknown> = {};
          for (let k = 0; k < take; k++) {
            for (let c = 0; c < names.length; c++) row[names[c]!] = data[c]![k];
            for (const [name, t] of transforms) row[name] = t(row[name]);
            try {
              builder.addRow(row);
            } catch (e) {
              rejectOrThrow(
                e,
                { file, row: groupStart + at + k + 1 },
                opts.onRejectedRow,
                (f) => row[f],
                () => row,
              );
            }
            if (builder.isFull) {
              const c = builder.rowCount;
              yield builder.flush(file, emitted + 1);
              emitted += c;
            }
          }
        }
        try {
          await group.finish();
        } catch (e) {
          throw decodeError(e, groupStart, groupStart + n);
        }
        groupStart += n;
      }
      if (builder.rowCount > 0) yield builder.flush(file, emitted + 1);
    },
  };
}
