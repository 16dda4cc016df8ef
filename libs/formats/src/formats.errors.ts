import { CodedError } from '@gw/errors';

/** Why a file (group) cannot be read. One home enum for libs/formats. */
export enum FormatErrorCode {
  /** Extension not importable, or a multi-file group that is not all `.npy` (2100 at create). */
  UnsupportedFileType = 'UNSUPPORTED_FILE_TYPE',
  /** Bad `sep` / `nullkey` job options (1100 at create). */
  InvalidOptions = 'INVALID_OPTIONS',
  /** Malformed text: JSON syntax, CSV quoting, invalid UTF-8, a row too large to buffer. */
  Syntax = 'SYNTAX',
  /** Valid JSON whose shape is not `{"rows":[…]}` / `[…]` / one object per line. */
  InvalidStructure = 'INVALID_STRUCTURE',
  /** A value refused by the schema (wraps SchemaError with the location). */
  InvalidValue = 'INVALID_VALUE',
  /** Column type or NumPy dtype/shape that cannot hold the field, found from metadata. */
  ColumnType = 'COLUMN_TYPE',
  /** A required field has no column / file, or an input column/file is not in the schema. */
  MissingColumn = 'MISSING_COLUMN',
  UnknownColumn = 'UNKNOWN_COLUMN',
  /** NumPy group files with different row counts. */
  RowCountMismatch = 'ROW_COUNT_MISMATCH',
  /** Corrupt or truncated binary file (wrong magic, bad header/footer, short data). */
  Corrupt = 'CORRUPT',
  /**
   * A size the file declares (Parquet footer or page, value count, NumPy row) past what holds it
   * (file, column chunk, a sane decompression ratio) or past IMPORT_MAX_PAGE_BYTES; refused before
   * anything of that size is allocated.
   */
  TooLarge = 'TOO_LARGE',
  /** A valid file using something we do not read (codec, pickled objects, Fortran order, encryption). */
  Unsupported = 'UNSUPPORTED',
}

export interface FormatErrorLocation {
  readonly file: string;
  readonly row?: number;
  readonly byte?: number;
  readonly line?: number;
  readonly field?: string;
}

/**
 * `<file>: row <n>[ (byte <offset>| line <l>)], field '<f>': <problem>` (formats.md §2.6); parts
 * that do not apply are left out, e.g. `<file>: field '<f>': <problem>` for whole-file errors.
 */
export function locationMessage(loc: FormatErrorLocation, problem: string): string {
  const parts: string[] = [];
  if (loc.row !== undefined) {
    let r = `row ${loc.row}`;
    if (loc.byte !== undefined) r += ` (byte ${loc.byte})`;
    else if (loc.line !== undefined) r += ` (line ${loc.line})`;
    parts.push(r);
  } else if (loc.byte !== undefined) parts.push(`byte ${loc.byte}`);
  if (loc.field !== undefined) parts.push(`field '${loc.field}'`);
  // Errors raised before any file is open (formatOf, CSV options) carry no location at all.
  const head = [loc.file, parts.join(', ')].filter((p) => p !== '').join(': ');
  return head === '' ? problem : `${head}: ${problem}`;
}

/** Every error a reader throws: bad input, so never retryable; `details` carries the location. */
export class FormatError extends CodedError<FormatErrorCode> {
  declare readonly details: Readonly<FormatErrorLocation & { problem: string }>;

  constructor(code: FormatErrorCode, loc: FormatErrorLocation, problem: string, cause?: unknown) {
    super(code, locationMessage(loc, problem), { retryable: false, details: { ...loc, problem }, cause });
  }
}
