import type { RejectedRow } from '@gw/formats';
import { CodedError } from '@gw/errors';
import { MAX_STORED_REJECTS_PER_JOB, type RejectRecord } from '@gw/db';
import { exceedsBadRowLimit, type ImportExtensions, parseImportExtensions } from './extension-options';

/** A job under error_mode=continue went past its max_bad_rows: it fails and publishes nothing. */
export class TooManyRejectedRows extends CodedError<'TOO_MANY_REJECTED_ROWS'> {
  constructor(rejected: number, read: number, limit: string) {
    super(
      'TOO_MANY_REJECTED_ROWS',
      `${rejected} of ${read} rows rejected, above max_bad_rows=${limit}; nothing was imported (see the rejects report)`,
      { retryable: false, details: { rejected, read } },
    );
  }
}

/** The extension options of a run's job (already checked at create, so they parse). */
export function extensionsOf(options: Readonly<Record<string, string>>): ImportExtensions {
  return parseImportExtensions(options);
}

/**
 * Throws TooManyRejectedRows when `rejected` of `read` rows exceed the job's max_bad_rows. With
 * `partial` (more groups may follow) only a count limit is checked: a share is judged on the whole.
 */
export function checkBadRows(
  options: Readonly<Record<string, string>>,
  rejected: number,
  read: number,
  partial = false,
): void {
  const ext = extensionsOf(options);
  if (ext.errorMode !== 'continue' || ext.maxBadRows === undefined) return;
  if (partial && ext.maxBadRows.kind !== 'count') return;
  if (exceedsBadRowLimit(ext.maxBadRows, rejected, read)) {
    throw new TooManyRejectedRows(rejected, read, options.max_bad_rows ?? '');
  }
}

/**
 * One group's rejections while it is staged: every one is counted, at most
 * MAX_STORED_REJECTS_PER_JOB kept in memory (the store keeps no more for the whole job).
 */
export class RejectCollector {
  readonly rows: RejectRecord[] = [];
  total = 0;

  readonly push = (r: RejectedRow): void => {
    this.total++;
    if (this.rows.length < MAX_STORED_REJECTS_PER_JOB) this.rows.push(r);
  };

  /** A collector when the job runs with error_mode=continue, else null (the first bad row fails). */
  static forOptions(options: Readonly<Record<string, string>>): RejectCollector | null {
    return extensionsOf(options).errorMode === 'continue' ? new RejectCollector() : null;
  }
}
