import {
  JsonSyntaxError,
  META_FIELD,
  parseJsonExact,
  RowBatchBuilder,
  SchemaError,
  SchemaErrorCode,
  type CollectionSchema,
  type FieldSchema,
  type RowBatch,
} from '@gw/schema';
import type { ByteInput } from './byte-input';
import { CsvByteSplitter, Utf8StreamValidator, type CsvByteRecord } from './csv-bytes';
import { FastRowParser, shortAscii } from './fast-json';
import { validateCsvOptions } from './format-of';
import { FormatError, FormatErrorCode } from './formats.errors';
import type { FileGroupReader, ReadOptions } from './reader';
import { firstInvalidUtf8, MAX_ROW_BYTES, rejectOrThrow } from './text';

export interface CsvRecord {
  readonly cells: string[];
  /** File line (1-based) where the record starts. */
  readonly line: number;
}

const QUOTE = 34;
const CR = 13;
const LF = 10;

/**
 * Push-based RFC 4180 record splitter over decoded text: quoted fields may hold separators, doubled
 * quotes and line breaks; CRLF, LF and lone CR end records. Tracks the start line of each record so
 * errors can name it (formats.md §6). Blank lines are skipped.
 */
export class CsvRecordSplitter {
  private cells: string[] = [];
  private field = '';
  private inQuotes = false;
  private quoteClosed = false;
  private fieldQuoted = false;
  private pendingCr = false;
  private line = 1;
  private recordLine = 1;
  private recordChars = 0;
  private readonly out: CsvRecord[] = [];
  private readonly sepCode: number;

  constructor(
    private readonly file: string,
    sep: string,
    private readonly rowOf: () => number,
  ) {
    this.sepCode = sep.charCodeAt(0);
  }

  take(): CsvRecord[] {
    return this.out.splice(0, this.out.length);
  }

  private fail(problem: string, field?: string): never {
    const loc = { file: this.file, row: this.rowOf() + 1, line: this.recordLine };
    throw new FormatError(FormatErrorCode.Syntax, field === undefined ? loc : { ...loc, field }, problem);
  }

  /** Header names (the first record), to name the cell a too-large row is stuck in. */
  private header: readonly string[] | null = null;

  private tooLarge(): never {
    this.fail(`row is larger than ${MAX_ROW_BYTES} bytes`, this.header?.[this.cells.length]);
  }

  private endField(): void {
    this.cells.push(this.field);
    this.field = '';
    this.quoteClosed = false;
    this.fieldQuoted = false;
  }

  private endRecord(): void {
    this.endField();
    const blank = this.cells.length === 1 && this.cells[0] === '' && !this.lastWasQuoted;
    if (!blank) {
      this.out.push({ cells: this.cells, line: this.recordLine });
      this.header ??= this.cells;
    }
    this.cells = [];
    this.recordChars = 0;
    this.recordLine = this.line;
  }

  private lastWasQuoted = false;

  push(text: string): void {
    const sep = this.sepCode;
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (this.inQuotes) {
        // Copy the run up to the next quote in one slice: quoted JSON vectors are long.
        const q = text.indexOf('"', i);
        const stop = q < 0 ? n : q;
        const run = text.slice(i, stop);
        for (let k = run.indexOf('\n'); k >= 0; k = run.indexOf('\n', k + 1)) this.line++;
        this.field += run;
        this.recordChars += run.length;
        if (this.recordChars > MAX_ROW_BYTES) this.tooLarge();
        if (q < 0) return;
        this.inQuotes = false;
        this.quoteClosed = true;
        i = q + 1;
        continue;
      }
      if (this.quoteClosed) {
        if (c === QUOTE) {
          // A doubled quote inside a quoted field.
          this.field += '"';
          this.inQuotes = true;
          this.quoteClosed = false;
          i++;
          continue;
        }
        if (c !== sep && c !== LF && c !== CR) this.fail('unexpected character after a closing quote');
      }
      if (c === sep) {
        this.lastWasQuoted = this.fieldQuoted;
        this.endField();
        i++;
      } else if (c === LF || c === CR) {
        this.lastWasQuoted = this.fieldQuoted;
        this.line++;
        this.pendingCr = c === CR;
        i++;
        this.endRecord();
      } else if (c === QUOTE) {
        if (this.field !== '') this.fail('unexpected quote inside an unquoted field');
        this.inQuotes = true;
        this.fieldQuoted = true;
        i++;
      } else {
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === sep || d === LF || d === CR || d === QUOTE) break;
          j++;
        }
        this.field += text.slice(i, j);
        this.recordChars += j - i;
        if (this.recordChars > MAX_ROW_BYTES) this.tooLarge();
        i = j;
      }
    }
  }

  end(): void {
    if (this.inQuotes) this.fail('unterminated quoted field');
    if (this.field !== '' || this.cells.length > 0 || this.fieldQuoted) {
      this.lastWasQuoted = this.fieldQuoted;
      this.endRecord();
    }
  }
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function mismatch(f: FieldSchema, text: string): SchemaError {
  const shown = text.length > 40 ? `a string of ${text.length} characters` : `"${text}"`;
  return new SchemaError(SchemaErrorCode.TypeMismatch, f.name, `expected ${f.dataType}, got ${shown}`);
}

function jsonCell(f: FieldSchema, text: string): unknown {
  try {
    return parseJsonExact(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError)
      throw new SchemaError(SchemaErrorCode.InvalidJson, f.name, `invalid JSON text: ${e.problem}`);
    throw e;
  }
}

/** A CSV cell as the value the schema validator expects for the field (formats.md §3, CSV column). */
export function csvCellValue(f: FieldSchema, text: string, nullkey: string): unknown {
  if ((f.nullable || f.defaultValue !== undefined) && text === nullkey) return null;
  switch (f.dataType) {
    case 'Bool': {
      const t = text.toLowerCase();
      if (t === 'true') return true;
      if (t === 'false') return false;
      throw mismatch(f, text);
    }
    case 'Int8':
    case 'Int16':
    case 'Int32':
      if (!INT_RE.test(text)) throw mismatch(f, text);
      return text.length > 15 ? BigInt(text) : Number(text);
    case 'Int64':
      if (!INT_RE.test(text)) throw mismatch(f, text);
      return BigInt(text);
    case 'Float':
    case 'Double':
      if (!FLOAT_RE.test(text)) throw mismatch(f, text);
      return Number(text);
    case 'VarChar':
    case 'JSON':
    case 'SparseFloatVector':
    case 'Array':
      // The validator parses JSON text for these itself.
      return text;
    case 'FloatVector':
    case 'BinaryVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
      return jsonCell(f, text);
  }
}

type ColumnRole = { kind: 'field'; field: FieldSchema } | { kind: 'meta' } | { kind: 'extra' } | { kind: 'skip' };

export function openCsvReader(input: ByteInput, schema: CollectionSchema, opts: ReadOptions): FileGroupReader {
  const { sep, nullkey } = validateCsvOptions(opts.sep, opts.nullkey);
  const file = input.name;
  let consumed = 0;
  return {
    totalBytes: input.byteLength,
    totalRows: async () => null,
    bytesConsumed: () => consumed,
    async *batches(): AsyncIterable<RowBatch> {
      const builder = new RowBatchBuilder(schema, opts.batchRows, opts);
      const fast = FastRowParser.forSchema(schema, builder);
      const cellValue = (f: FieldSchema, text: string): unknown => csvCellValue(f, text, nullkey);
      /** Header fields in column order when every column is a schema field (the fast path's case). */
      let fastFields: FieldSchema[] | null = null;
      let row = 0;
      let emitted = 0;
      let header: { names: string[]; roles: ColumnRole[] } | null = null;
      const splitter = new CsvRecordSplitter(file, sep, () => row);
      const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
      // Cells of validated chunks: a U+FEFF inside the data stays.
      const cellDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
      const nullkeyBytes = Buffer.from(nullkey, 'utf8');

      const onHeader = (rec: CsvRecord): void => {
        const seen = new Set<string>();
        const roles = rec.cells.map((name): ColumnRole => {
          if (seen.has(name))
            throw new FormatError(
              FormatErrorCode.Syntax,
              { file, line: rec.line, field: name },
              `duplicate column '${name}' in the header`,
            );
          seen.add(name);
          const f = builder.fieldNamed(name);
          if (f !== undefined) {
            if (f.isPrimary && f.autoId)
              throw new FormatError(
                FormatErrorCode.UnknownColumn,
                { file, field: name },
                `the primary key '${name}' is auto-generated, no need to provide`,
              );
            return { kind: 'field', field: f };
          }
          if (schema.enableDynamicField) return name === META_FIELD ? { kind: 'meta' } : { kind: 'extra' };
          if (opts.ignoreUnknownFields) return { kind: 'skip' };
          throw new FormatError(
            FormatErrorCode.UnknownColumn,
            { file, field: name },
            `field '${name}' is not defined in the schema`,
          );
        });
        header = { names: rec.cells, roles };
        const fields = roles.flatMap((r) => (r.kind === 'field' ? [r.field] : []));
        fastFields = fields.length === roles.length ? fields : null;
      };

      const onRecord = (rec: CsvRecord): void => {
        if (header === null) return onHeader(rec);
        row++;
        const { names, roles } = header;
        if (rec.cells.length !== names.length)
          throw new FormatError(
            FormatErrorCode.Syntax,
            { file, row, line: rec.line },
            `expected ${names.length} cells as in the header, got ${rec.cells.length}`,
          );
        // Schema-directed path first (vectors scanned into the batch); the general one on anything else.
        if (fast !== null && fastFields !== null && fast.tryCsvRecord(fastFields, rec.cells, nullkey, cellValue))
          return;
        const obj: Record<string, unknown> = {};
        try {
          for (let k = 0; k < roles.length; k++) {
            const role = roles[k]!;
            const cell = rec.cells[k]!;
            if (role.kind === 'field') obj[names[k]!] = csvCellValue(role.field, cell, nullkey);
            else if (role.kind !== 'skip') obj[names[k]!] = cell;
          }
          builder.addRow(obj);
        } catch (e) {
          rejectOrThrow(
            e,
            { file, row, line: rec.line },
            opts.onRejectedRow,
            (f) => {
              const k = names.indexOf(f);
              return k < 0 ? undefined : rec.cells[k];
            },
            () => rec.cells.join(sep),
          );
        }
      };

      let chunkStart = 0;
      const utf8Failure = (chunk: Uint8Array): FormatError => {
        const at = firstInvalidUtf8(chunk);
        return new FormatError(
          FormatErrorCode.Syntax,
          { file, row: row + 1, byte: chunkStart + Math.max(0, at) },
          'invalid UTF-8',
        );
      };
      const decode = (chunk: Uint8Array, last: boolean): string => {
        try {
          return decoder.decode(chunk, { stream: !last });
        } catch {
          throw utf8Failure(chunk);
        }
      };
      /** A validated cell as text; short ASCII cells without a decoder call. */
      const cellText = (b: Uint8Array): string => {
        const n = b.length;
        if (n <= 12) {
          let k = 0;
          while (k < n && b[k]! < 0x80) k++;
          if (k === n) return shortAscii(b, 0, n);
        }
        return cellDecoder.decode(b);
      };
      const onByteRecord = (rec: CsvByteRecord): void => {
        if (
          header !== null &&
          fast !== null &&
          fastFields !== null &&
          rec.cells.length === (header as { names: string[] }).names.length
        ) {
          row++;
          if (fast.tryCsvByteRecord(fastFields, rec.cells, nullkey, nullkeyBytes, cellText, cellValue)) return;
          row--;
        }
        onRecord({ cells: rec.cells.map(cellText), line: rec.line });
      };

      if (sep.charCodeAt(0) < 0x80) {
        // Bytes straight to the splitter and the vector scanner; UTF-8 validated natively per chunk.
        const bytes = new CsvByteSplitter(file, sep.charCodeAt(0), () => row);
        const validator = new Utf8StreamValidator();
        for await (const chunk of input.stream(0)) {
          if (!validator.push(chunk)) throw utf8Failure(chunk);
          bytes.push(chunk);
          chunkStart += chunk.length;
          consumed += chunk.length;
          for (const rec of bytes.take()) {
            onByteRecord(rec);
            if (builder.isFull) {
              const n = builder.rowCount;
              yield builder.flush(file, emitted + 1);
              emitted += n;
            }
          }
        }
        if (!validator.end()) throw utf8Failure(new Uint8Array(0));
        bytes.end();
        for (const rec of bytes.take()) {
          onByteRecord(rec);
          if (builder.isFull) {
            const n = builder.rowCount;
            yield builder.flush(file, emitted + 1);
            emitted += n;
          }
        }
        if (builder.rowCount > 0) yield builder.flush(file, emitted + 1);
        return;
      }

      for await (const chunk of input.stream(0)) {
        splitter.push(decode(chunk, false));
        chunkStart += chunk.length;
        consumed += chunk.length;
        for (const rec of splitter.take()) {
          onRecord(rec);
          if (builder.isFull) {
            const n = builder.rowCount;
            yield builder.flush(file, emitted + 1);
            emitted += n;
          }
        }
      }
      splitter.push(decode(new Uint8Array(0), true));
      splitter.end();
      for (const rec of splitter.take()) {
        onRecord(rec);
        if (builder.isFull) {
          const n = builder.rowCount;
          yield builder.flush(file, emitted + 1);
          emitted += n;
        }
      }
      if (builder.rowCount > 0) yield builder.flush(file, emitted + 1);
    },
  };
}
