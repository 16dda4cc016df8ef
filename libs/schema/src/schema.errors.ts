import { CodedError } from '@gw/errors';

/** Why a value or a row does not fit the collection schema. One home enum for libs/schema. */
export enum SchemaErrorCode {
  TypeMismatch = 'TYPE_MISMATCH',
  OutOfRange = 'OUT_OF_RANGE',
  NotFinite = 'NOT_FINITE',
  Dimension = 'DIMENSION',
  MaxLength = 'MAX_LENGTH',
  MaxCapacity = 'MAX_CAPACITY',
  InvalidUtf8 = 'INVALID_UTF8',
  MissingField = 'MISSING_FIELD',
  NullNotAllowed = 'NULL_NOT_ALLOWED',
  AutoIdPresent = 'AUTO_ID_PRESENT',
  UnknownField = 'UNKNOWN_FIELD',
  InvalidJson = 'INVALID_JSON',
  JsonTooLarge = 'JSON_TOO_LARGE',
  InvalidSparse = 'INVALID_SPARSE',
  InvalidMeta = 'INVALID_META',
  DuplicateMetaKey = 'DUPLICATE_META_KEY',
}

export interface SchemaErrorDetails {
  /** Field the problem concerns ('$meta' for dynamic-field problems). */
  readonly field: string;
  /** The reason alone, without location, as the spec words it (formats.md §2–3). */
  readonly problem: string;
  /** 1-based row number when the caller knows it (entities/insert path). */
  readonly row?: number;
}

/**
 * A value or row rejected by the schema. Always bad input, so never retryable. The message is
 * `field '<f>': <problem>` (or `row <n>, field '<f>': <problem>` when the row is known); readers
 * re-wrap it with file and position using `details`.
 */
export class SchemaError extends CodedError<SchemaErrorCode> {
  declare readonly details: Readonly<SchemaErrorDetails>;

  constructor(code: SchemaErrorCode, field: string, problem: string, row?: number) {
    const where = row === undefined ? '' : `row ${row}, `;
    super(code, `${where}field '${field}': ${problem}`, {
      retryable: false,
      details: row === undefined ? { field, problem } : { field, problem, row },
    });
  }

  get field(): string {
    return this.details.field;
  }

  get problem(): string {
    return this.details.problem;
  }

  /** The same error located at a row (used by rowsToBatch for entities/insert). */
  atRow(row: number): SchemaError {
    return new SchemaError(this.code, this.details.field, this.details.problem, row);
  }
}

/**
 * Syntax error of the exact JSON parser: `offset` is a UTF-16 index into the parsed text (readers
 * convert it to a byte offset in the file).
 */
export class JsonSyntaxError extends CodedError<SchemaErrorCode.InvalidJson> {
  declare readonly details: Readonly<{ offset: number; problem: string }>;

  constructor(offset: number, problem: string) {
    super(SchemaErrorCode.InvalidJson, `invalid JSON at offset ${offset}: ${problem}`, {
      retryable: false,
      details: { offset, problem },
    });
  }

  get offset(): number {
    return this.details.offset;
  }

  get problem(): string {
    return this.details.problem;
  }
}
