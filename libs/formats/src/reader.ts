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
