import type { JobFileRow, JobListRow, JobPhaseRow, JobRow, JobState } from '@gw/db';
import { parseImportExtensions } from './extension-options';
import type { JobView } from './query-import-jobs.usecase';
import { webhooksField } from '../webhooks/webhooks-field';

/** RFC 3339 UTC with seconds, as Milvus prints times. */
export function rfc3339(d: Date | null): string {
  return d === null ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** v2 `state`: Cancelled is reported as Failed so pollers waiting for Completed/Failed stop (§6). */
export function v2State(s: JobState): string {
  return s === 'Cancelled' ? 'Failed' : s;
}

export function v1State(s: JobState): string {
  if (s === 'Pending' || s === 'Importing') return 'ImportRunning';
  return s === 'Completed' ? 'ImportCompleted' : 'ImportFailed';
}

const num = (s: string) => Number(s);

/**
 * Progress as clients must see it: 0 when Pending, stored value while Importing (never above 99),
 * 100 only when Completed, 0 when Failed or Cancelled.
 */
export function jobProgress(job: Pick<JobRow, 'state' | 'progress'>): number {
  switch (job.state) {
    case 'Completed':
      return 100;
    case 'Importing':
      return Math.min(99, job.progress);
    default:
      return 0;
  }
}

function fileProgress(job: JobRow, f: JobFileRow): number {
  if (f.state === 'Completed' || f.state === 'Skipped') return 100;
  if (job.state === 'Failed' || job.state === 'Cancelled' || f.state === 'Failed') return 0;
  return Math.min(99, f.progress);
}

function fileState(job: JobRow, f: JobFileRow): string {
  if (f.state === 'Skipped') return 'Skipped'; // skip_imported: already in the file ledger (decision 1401)
  if (job.state === 'Completed') return 'Completed';
  return f.state;
}

/**
 * error_mode=continue (decision 1301): `rejectedRows` of a job (and of each file), shown when the
 * job runs in that mode or skipped rows — absent otherwise, so Milvus answers stay as they were.
 */
function rejectedRowsOf(
  row: { rejectedRows?: string },
  options?: Readonly<Record<string, string>>,
): { rejectedRows?: number } {
  const n = Number(row.rejectedRows ?? 0);
  const continuing = options?.error_mode?.toLowerCase() === 'continue' || options?.max_bad_rows !== undefined;
  return n > 0 || continuing ? { rejectedRows: n } : {};
}

/**
 * A dry run's report (options.dry_run, decision 1302): files, rows read, bytes, rows refused, the
 * first errors and whole-file problem of each file group, and an estimated duration from the
 * collection's recent imports (null without history). Absent for other jobs.
 */
function dryRunOf(view: JobView): { dryRun?: Record<string, unknown> } {
  const { job, files } = view;
  if (job.options.dry_run?.toLowerCase() !== 'true') return {};
  const bytes = files.reduce((a, f) => a + num(f.sizeBytes), 0);
  const rate = view.dryRun?.bytesPerSecond ?? null;
  const errors = view.dryRun?.errors ?? [];
  return {
    dryRun: {
      done: job.state === 'Completed',
      // Objects listed and read (a folder counts its files), not request groups: `details` has those.
      files: files.reduce((a, f) => a + (f.objects ?? 0), 0),
      rows: num(job.totalRows),
      bytes,
      rejectedRows: num(job.rejectedRows),
      estimatedSeconds: rate === null ? null : Math.ceil(bytes / rate),
      details: files.map((f) => ({
        fileName: f.displayName,
        files: f.objects ?? 0,
        rows: num(f.totalRows),
        bytes: num(f.sizeBytes),
        rejectedRows: num(f.rejectedRows),
        problem: f.reason,
        errors: errors
          .filter((e) => e.group === f.groupIndex)
          .map((e) => ({ file: e.file, row: e.row, field: e.field, reason: e.reason })),
      })),
    },
  };
}

export function describeV2(view: JobView): Record<string, unknown> {
  const { job, files } = view;
  const terminal = job.state === 'Completed' || job.state === 'Failed' || job.state === 'Cancelled';
  const fileSize = files.reduce((a, f) => a + num(f.sizeBytes), 0);
  return {
    jobId: job.jobId,
    collectionName: job.collectionName,
    ...(files.length === 1 ? { fileName: files[0]!.displayName } : {}),
    fileSize,
    state: v2State(job.state),
    gatewayState: job.state,
    progress: jobProgress(job),
    importedRows: job.state === 'Completed' || job.state === 'Importing' ? num(job.importedRows) : 0,
    totalRows: num(job.totalRows),
    ...rejectedRowsOf(job, job.options),
    ...dryRunOf(view),
    reason: terminal && job.state !== 'Completed' ? job.reason : '',
    createTime: rfc3339(job.createdAt),
    completeTime: terminal ? rfc3339(job.completedAt) : '',
    details: files.map((f) => ({
      fileName: f.displayName,
      fileSize: num(f.sizeBytes),
      state: fileState(job, f),
      progress: fileProgress(job, f),
      importedRows: job.state === 'Failed' || job.state === 'Cancelled' ? 0 : num(f.importedRows),
      totalRows: num(f.totalRows),
      ...rejectedRowsOf(f, job.options),
      reason: f.reason,
      completeTime: rfc3339(f.completedAt),
      ...ledgerDetailFields(f),
    })),
    ...phaseFields(view),
    ...webhooksField(view),
  };
}

const INDEX_STATES: Readonly<Record<JobPhaseRow['state'], string>> = {
  Running: 'Building',
  Done: 'Built',
  Failed: 'Failed',
  Skipped: 'Skipped',
};

/**
 * Gateway fields of describe (docs/api-extensions.md): the phase timeline, rows that met an existing
 * key under on_conflict skip/upsert, and the state of the index build after load, reported apart
 * from the job's own state (a Completed job may still be Building its index).
 */
export function phaseFields(view: JobView): Record<string, unknown> {
  const list = view.phases ?? [];
  if (list.length === 0) return {};
  const publishing = list.find((p) => p.phase === 'publishing');
  const indexing = list.find((p) => p.phase === 'indexing');
  let conflict = 'error';
  try {
    conflict = parseImportExtensions(view.job.options).onConflict;
  } catch {
    // Options were validated at create; an unreadable one only hides the count.
  }
  return {
    phases: list.map((p) => {
      const ms = (p.endedAt ?? new Date()).getTime() - p.startedAt.getTime();
      const rows = p.rows === null ? null : Number(p.rows);
      return {
        phase: p.phase,
        state: p.state,
        startTime: rfc3339(p.startedAt),
        endTime: rfc3339(p.endedAt),
        ...(rows === null ? {} : { rows, rowsPerSecond: ms > 0 ? Math.round((rows * 1000) / ms) : rows }),
        ...(p.message === '' ? {} : { message: p.message }),
      };
    }),
    ...(conflict !== 'error' && publishing?.conflictRows != null
      ? { conflictRows: Number(publishing.conflictRows) }
      : {}),
    ...(indexing === undefined
      ? {}
      : {
          indexState: INDEX_STATES[indexing.state],
          ...(indexing.message === '' ? {} : { indexReason: indexing.message }),
        }),
  };
}

/** skip_imported (decision 1401): a folder some of whose objects were already loaded says how many. */
function ledgerDetailFields(f: JobFileRow): Record<string, unknown> {
  const n = f.skippedObjects ?? 0;
  return n > 0 && f.isFolder ? { skippedFiles: n } : {};
}

export function listRecordV2(job: JobListRow): Record<string, unknown> {
  const reason = job.state === 'Failed' || job.state === 'Cancelled' ? job.reason : '';
  return {
    collectionName: job.collectionName,
    jobId: job.jobId,
    state: v2State(job.state),
    gatewayState: job.state,
    progress: jobProgress(job),
    createTime: rfc3339(job.createdAt),
    ...rejectedRowsOf(job),
    ...(reason === '' ? {} : { reason }),
  };
}

export function describeV1(view: JobView): Record<string, unknown> {
  const v2 = describeV2(view);
  const { job, files } = view;
  const terminal = job.state === 'Completed' || job.state === 'Failed' || job.state === 'Cancelled';
  const errorMessage = (r: string) => (r === '' ? null : r);
  return {
    collectionName: job.collectionName,
    jobId: job.jobId,
    fileName: files.length === 1 ? files[0]!.displayName : files.map((f) => f.displayName).join(','),
    fileSize: v2.fileSize,
    readyPercentage: jobProgress(job) / 100,
    completeTime: terminal ? rfc3339(job.completedAt) : null,
    errorMessage: errorMessage(v2.reason as string),
    details: (v2.details as Record<string, unknown>[]).map((d) => ({
      fileName: d.fileName,
      fileSize: d.fileSize,
      readyPercentage: (d.progress as number) / 100,
      completeTime: d.completeTime === '' ? null : d.completeTime,
      errorMessage: errorMessage(d.reason as string),
    })),
  };
}
