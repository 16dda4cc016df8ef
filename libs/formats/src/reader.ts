import type { RowBatch } from '@gw/schema';

export interface ReadOptions {
  /** Rows per RowBatch at most (the last batch may be smaller). */
  readonly batchRows: number;
  /**
   * About how many bytes of row data a RowBatch holds at most (fixed field widths such as dim×4
   * per FloatVector, plus string lengths); a batch ends at `batchRows` rows or at this size,
   * whichever comes first. Unbounded when absent.
   */
  readonly batchBytes?: number;
  /**
   * Largest page, footer or row a reader allocates because the file declares it
   * (IMPORT_MAX_PAGE_BYTES); DEFAULT_MAX_PAGE_BYTES when absent.
   */
  readonly maxPageBytes?: number;
  /** CSV separator, one character (default `,`). */
  readonly sep?: string;
  /** CSV cell text meaning null for nullable/defaulted fields (default ``). */
  readonly nullkey?: string;
  /** Skip input fields that are not in the schema instead of failing (Milvus 2.6 option). */
  readonly ignoreUnknownFields?: boolean;
  /**
   * error_mode=continue (docs/api-extensions.md): a row the schema refuses (an INVALID_VALUE error)
   * is handed here and skipped instead of failing the read. Syntax and corruption errors still
   * throw. Not cloneable: a parse thread gets `keepGoing` instead and posts rejections back.
   */
  readonly onRejectedRow?: (r: RejectedRow) => void;
}

/** A row skipped under error_mode=continue, located in the file like a FormatError. */
export interface RejectedRow {
  readonly file: string;
  /** 1-based data row of the file (group), as in FormatError locations. */
  readonly row: number;
  readonly field: string;
  /** The schema's reason, without location (formats.md §2–3 wording). */
  readonly reason: string;
  /** The offending value as text (the whole row when the field is absent), at most 1 KiB of UTF-8. */
  readonly raw: string;
}

/**
 * One file group being read. `batches()` may be iterated once; it validates every row and throws
 * FormatError at the first bad one, naming file, row and field.
 */
export interface FileGroupReader {
  /** Rows in the group when the format knows it up front (Parquet, NumPy), else null. */
  totalRows(): Promise<number | null>;
  /** Bytes read so far across the group's inputs, for progress. */
  bytesConsumed(): number;
  /** Sum of the inputs' sizes. */
  readonly totalBytes: number;
  batches(): AsyncIterable<RowBatch>;
}
