import { CodedError } from '@gw/errors';

/** Why a COPY into a collection (or staging) table failed. One home enum for libs/sink. */
export enum SinkErrorCode {
  /** Unique violation (23505): the message names the key, `duplicate primary key: id=42`. */
  DuplicateKey = 'DUPLICATE_KEY',
  /** CHECK violation (23514): the message names the constraint (and the field when it is a gw_check_<i>). */
  CheckViolation = 'CHECK_VIOLATION',
  /** NOT NULL violation (23502): the message names the column. */
  NotNullViolation = 'NOT_NULL_VIOLATION',
  /** Any other error about the data (classes 22, 23, …): PostgreSQL's message. */
  InvalidData = 'INVALID_DATA',
  /** Connection-class or transient server errors (08xxx, 57P0x, 53xxx, 40001, ECONNRESET…): retryable. */
  Connection = 'CONNECTION',
  /** The AbortSignal fired; the COPY was cancelled. */
  Aborted = 'ABORTED',
  /** A batch does not carry exactly the columns the layout expects (a programming error upstream). */
  LayoutMismatch = 'LAYOUT_MISMATCH',
  /** A value the encoder cannot represent in the column type (e.g. 40000 for a smallint). */
  ValueOutOfRange = 'VALUE_OUT_OF_RANGE',
  /** Any other PostgreSQL or driver error (wrong table, missing column, permissions…). */
  Database = 'DATABASE',
  /** A newer run of the job holds the staging table's fence: this run must stop writing. */
  FenceLost = 'FENCE_LOST',
  /**
   * The job was ended (cancelled, failed) while this run was going: its fence is closed and no run
   * may stage or publish any more. Details carry the ending (`state`, `reason`).
   */
  FenceClosed = 'FENCE_CLOSED',
  /** Staged rows of a group differ from the rows its commit recorded; the group is staged again. */
  StagedCountMismatch = 'STAGED_COUNT_MISMATCH',
}

export class SinkError extends CodedError<SinkErrorCode> {}

/** Where a failing COPY line came from, when PostgreSQL names the line. */
export interface SinkErrorLocation {
  readonly file: string;
  /** 1-based row within the file group (RowBatch.firstRow numbering). */
  readonly row: number;
}
