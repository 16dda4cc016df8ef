import type { Pool } from 'pg';

/** What a dry run found in one file group (decision 1302): its first errors. */
export interface DryRunError {
  readonly group: number;
  readonly file: string;
  readonly row: number;
  readonly field: string;
  readonly reason: string;
}

/** Errors a dry run's describe shows per file at most (issue 16: "per-file first 20 errors"). */
export const DRY_RUN_ERRORS_PER_FILE = 20;

/**
 * The reads and writes of dry runs (options.dry_run): a group's whole-file problem (schema
 * mismatch found from Parquet/NumPy metadata, syntax, corrupt file) on its file row, the first
 * rejected rows per group, and the recent throughput of a collection for the estimate.
 */
export class DryRunRepository {
  constructor(private readonly pool: Pool) {}

  async setGroupReason(jobPk: string, group: number, reason: string): Promise<void> {
    await this.pool.query(`UPDATE import_job_files SET reason = $3 WHERE job_id = $1 AND group_index = $2`, [
      jobPk,
      group,
      reason,
    ]);
  }

  /**
   * The first DRY_RUN_ERRORS_PER_FILE rejected rows of each file of each group, in group, file and
   * row order: a folder whose first file is all bad still shows its other files' errors.
   */
  async firstErrors(jobPk: string): Promise<DryRunError[]> {
    const r = await this.pool.query<{
      group_index: number;
      file: string;
      row_text: string;
      field: string;
      reason: string;
    }>(
      `SELECT group_index, file, row_number::text AS row_text, field, reason FROM (
         SELECT x.*, row_number() OVER (PARTITION BY group_index, file ORDER BY row_number, id) AS k
           FROM import_job_rejects x WHERE job_id = $1) r
        WHERE k <= $2 ORDER BY r.group_index, r.file, r.row_number, r.id`,
      [jobPk, DRY_RUN_ERRORS_PER_FILE],
    );
    return r.rows.map((x) => ({
      group: x.group_index,
      file: x.file,
      row: Number(x.row_text),
      field: x.field,
      reason: x.reason,
    }));
  }

  /**
   * Bytes per second of the collection's last 20 completed imports that imported rows (dry runs
   * excluded), or null when it has none.
   */
  async recentBytesPerSecond(dbName: string, collectionName: string): Promise<number | null> {
    const r = await this.pool.query<{ rate: number | null }>(
      `SELECT sum(total_bytes)::float8 / nullif(sum(extract(epoch FROM completed_at - started_at)), 0) AS rate
         FROM (SELECT total_bytes, started_at, completed_at FROM import_jobs
                WHERE db_name = $1 AND collection_name = $2 AND state = 'Completed' AND imported_rows > 0
                  AND started_at IS NOT NULL AND completed_at > started_at
                  AND coalesce(lower(options ->> 'dry_run'), 'false') <> 'true'
                ORDER BY created_at DESC LIMIT 20) recent`,
      [dbName, collectionName],
    );
    const rate = r.rows[0]?.rate ?? null;
    return rate === null || !(rate > 0) ? null : rate;
  }
}
