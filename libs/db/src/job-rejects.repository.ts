import type { Pool, PoolClient } from 'pg';

/** Rows of one job kept at most in import_job_rejects (decision 1301); the count goes on past it. */
export const MAX_STORED_REJECTS_PER_JOB = 10_000;

/** One row skipped under error_mode=continue, as stored and as the JSONL report shows it. */
export interface RejectRecord {
  readonly file: string;
  /** 1-based data row of the file (group), as in error messages. */
  readonly row: number;
  readonly field: string;
  readonly reason: string;
  /** The refused value as text, at most 1 KiB of UTF-8. */
  readonly raw: string;
}

/** A page of the report: `next` is the cursor of the following page, null after the last. */
export interface RejectsPage {
  readonly rows: readonly RejectRecord[];
  readonly next: string | null;
}

type Queryable = Pick<PoolClient, 'query'>;

/** Cursor of a page: the (group, row, id) of the last row shown. */
function encodeCursor(group: number, row: string, id: string): string {
  return Buffer.from(`${group}:${row}:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): [number, string, string] | null {
  const m = /^(\d{1,9}):(\d{1,19}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m === null ? null : [Number(m[1]), m[2]!, m[3]!];
}

/**
 * The rejected-rows report of jobs (import_job_rejects) and the rejectedRows counters of jobs
 * and file groups. A group's rows are written with its staging (same transaction when the job
 * tables share the target database), replacing those of an earlier attempt of the same group,
 * so a restaged group never counts twice.
 */
export class JobRejectsRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Records group `group`'s rejections (`rows`, already cut to what fits; `total` counted) and
   * sets the group's and the job's rejectedRows. Stores no more than MAX_STORED_REJECTS_PER_JOB
   * rows for the job across its groups.
   */
  async recordGroup(
    q: Queryable,
    jobPk: string,
    group: number,
    rows: readonly RejectRecord[],
    total: number,
  ): Promise<void> {
    await q.query('DELETE FROM import_job_rejects WHERE job_id = $1 AND group_index = $2', [jobPk, group]);
    if (rows.length > 0) {
      const held = await q.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM import_job_rejects WHERE job_id = $1',
        [jobPk],
      );
      const room = Math.max(0, MAX_STORED_REJECTS_PER_JOB - Number(held.rows[0]?.n ?? 0));
      const kept = [...rows].sort((a, b) => a.row - b.row || a.file.localeCompare(b.file)).slice(0, room);
      if (kept.length > 0) {
        await q.query(
          `INSERT INTO import_job_rejects (job_id, group_index, file, row_number, field, reason, raw)
           SELECT $1, $2, r.file, r.row, r.field, r.reason, r.raw
             FROM jsonb_to_recordset($3::jsonb) AS r(file text, "row" bigint, field text, reason text, raw text)`,
          [jobPk, group, JSON.stringify(kept)],
        );
      }
    }
    await q.query(
      `WITH f AS (UPDATE import_job_files SET rejected_rows = $3 WHERE job_id = $1 AND group_index = $2)
       UPDATE import_jobs j SET rejected_rows = (
           SELECT coalesce(sum(CASE WHEN x.group_index = $2 THEN $3 ELSE x.rejected_rows END), 0)
             FROM import_job_files x WHERE x.job_id = $1)
        WHERE j.id = $1`,
      [jobPk, group, total],
    );
  }

  /** Rows read and rejected over the job's file groups recorded so far (for max_bad_rows). */
  async totals(q: Queryable, jobPk: string): Promise<{ staged: number; rejected: number }> {
    const r = await q.query<{ staged: string; rejected: string }>(
      `SELECT coalesce(sum(imported_rows) FILTER (WHERE state = 'Completed'), 0)::text AS staged,
              coalesce(sum(rejected_rows), 0)::text AS rejected
         FROM import_job_files WHERE job_id = $1`,
      [jobPk],
    );
    return { staged: Number(r.rows[0]?.staged ?? 0), rejected: Number(r.rows[0]?.rejected ?? 0) };
  }

  /** One page of a job's report in (group, row) order; null `after` starts at the beginning. */
  async page(jobPk: string, after: string | null, limit: number): Promise<RejectsPage | null> {
    let cursor: [number, string, string] = [-1, '0', '0'];
    if (after !== null) {
      const c = decodeCursor(after);
      if (c === null) return null;
      cursor = c;
    }
    const r = await this.pool.query<{
      id_text: string;
      group_index: number;
      file: string;
      row_text: string;
      field: string;
      reason: string;
      raw: string;
    }>(
      `SELECT id::text AS id_text, group_index, file, row_number::text AS row_text, field, reason, raw
         FROM import_job_rejects
        WHERE job_id = $1 AND (group_index, row_number, id) > ($2, $3::bigint, $4::bigint)
        ORDER BY import_job_rejects.group_index, import_job_rejects.row_number, import_job_rejects.id
        LIMIT $5`,
      [jobPk, cursor[0], cursor[1], cursor[2], limit + 1],
    );
    const more = r.rows.length > limit;
    const shown = more ? r.rows.slice(0, limit) : r.rows;
    const last = shown[shown.length - 1];
    return {
      rows: shown.map((x) => ({
        file: x.file,
        row: Number(x.row_text),
        field: x.field,
        reason: x.reason,
        raw: x.raw,
      })),
      next: more && last !== undefined ? encodeCursor(last.group_index, last.row_text, last.id_text) : null,
    };
  }
}
