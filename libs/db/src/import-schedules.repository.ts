import type { Pool } from 'pg';

/** A schedule as stored (credentials sealed; opened only by the worker's tick). */
export interface ScheduleRow {
  id: string;
  scheduleId: string;
  dbName: string;
  collectionName: string;
  partitionName: string | null;
  folderUrl: string;
  intervalMs: number;
  intervalText: string;
  options: Record<string, string>;
  sealed: { keyId: string; iv: Buffer; ciphertext: Buffer; authTag: Buffer } | null;
  createdAt: Date;
  lastTickAt: Date | null;
  lastTickResult: string;
  lastJobId: string | null;
}

export interface NewSchedule {
  scheduleId: string;
  dbName: string;
  collectionName: string;
  partitionName?: string;
  folderUrl: string;
  intervalMs: number;
  intervalText: string;
  options: Record<string, string>;
  sealed?: { keyId: string; iv: Buffer; ciphertext: Buffer; authTag: Buffer };
  apiKeyId?: string;
}

const COLUMNS = `id::text, schedule_id AS "scheduleId", db_name AS "dbName", collection_name AS "collectionName",
  partition_name AS "partitionName", folder_url AS "folderUrl", interval_ms::float8 AS "intervalMs",
  interval_text AS "intervalText", options, key_id AS "keyId", iv, ciphertext, auth_tag AS "authTag",
  created_at AS "createdAt", last_tick_at AS "lastTickAt", last_tick_result AS "lastTickResult",
  last_job_id AS "lastJobId"`;

type RawRow = Omit<ScheduleRow, 'sealed'> & {
  keyId: string | null;
  iv: Buffer | null;
  ciphertext: Buffer | null;
  authTag: Buffer | null;
};

function toRow(r: RawRow): ScheduleRow {
  const { keyId, iv, ciphertext, authTag, ...rest } = r;
  const sealed = keyId !== null && iv !== null && ciphertext !== null && authTag !== null;
  return { ...rest, sealed: sealed ? { keyId, iv, ciphertext, authTag } : null };
}

/** Advisory lock class of schedule ticks (the second key is the schedule's id). */
const TICK_LOCK_CLASS = 0x1602;

/**
 * Scheduled imports (decision 1402): the table BullMQ's job schedulers are rebuilt from, the jobs
 * each schedule created, and the lock that keeps two workers from ticking one schedule at once.
 */
export class ImportSchedulesRepository {
  constructor(private readonly pool: Pool) {}

  /** Inserts a schedule for an existing collection; false when the collection is gone. */
  async create(s: NewSchedule): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO import_schedules (schedule_id, collection_id, db_name, collection_name, partition_name, folder_url,
                                     interval_ms, interval_text, options, key_id, iv, ciphertext, auth_tag, api_key_id)
       SELECT $1, g.id, g.db_name, g.name, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
         FROM gateway_collections g WHERE g.db_name = $2 AND g.name = $3`,
      [
        s.scheduleId,
        s.dbName,
        s.collectionName,
        s.partitionName ?? null,
        s.folderUrl,
        s.intervalMs,
        s.intervalText,
        JSON.stringify(s.options),
        s.sealed?.keyId ?? null,
        s.sealed?.iv ?? null,
        s.sealed?.ciphertext ?? null,
        s.sealed?.authTag ?? null,
        s.apiKeyId ?? null,
      ],
    );
    return r.rowCount === 1;
  }

  async find(scheduleId: string): Promise<ScheduleRow | null> {
    const r = await this.pool.query<RawRow>(`SELECT ${COLUMNS} FROM import_schedules WHERE schedule_id = $1`, [
      scheduleId,
    ]);
    const row = r.rows[0];
    return row === undefined ? null : toRow(row);
  }

  /** Schedules of a database (optionally one collection, or only the collections listed), oldest first. */
  async list(filter: {
    dbName: string;
    collectionName?: string;
    collectionsIn?: readonly string[];
  }): Promise<ScheduleRow[]> {
    const r = await this.pool.query<RawRow>(
      `SELECT ${COLUMNS} FROM import_schedules
        WHERE db_name = $1 AND ($2::text IS NULL OR collection_name = $2)
          AND ($3::text[] IS NULL OR collection_name = ANY($3::text[]))
        ORDER BY id`,
      [filter.dbName, filter.collectionName ?? null, filter.collectionsIn ?? null],
    );
    return r.rows.map(toRow);
  }

  /** Every schedule's id and interval: what a starting worker re-creates BullMQ's schedulers from. */
  async all(): Promise<{ scheduleId: string; intervalMs: number }[]> {
    const r = await this.pool.query<{ scheduleId: string; intervalMs: number }>(
      `SELECT schedule_id AS "scheduleId", interval_ms::float8 AS "intervalMs" FROM import_schedules ORDER BY id`,
    );
    return r.rows;
  }

  async drop(scheduleId: string): Promise<boolean> {
    const r = await this.pool.query(`DELETE FROM import_schedules WHERE schedule_id = $1`, [scheduleId]);
    return r.rowCount === 1;
  }

  /**
   * Runs `fn` holding the schedule's tick lock (a session advisory lock on one pooled connection);
   * null without running it when another worker is ticking the schedule.
   */
  async withTickLock<T>(id: string, fn: () => Promise<T>): Promise<T | null> {
    const c = await this.pool.connect();
    try {
      const got = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, $2::int) AS ok`, [
        TICK_LOCK_CLASS,
        Number(BigInt(id) % 2147483647n),
      ]);
      if (got.rows[0]?.ok !== true) return null;
      try {
        return await fn();
      } finally {
        await c.query(`SELECT pg_advisory_unlock($1, $2::int)`, [TICK_LOCK_CLASS, Number(BigInt(id) % 2147483647n)]);
      }
    } finally {
      c.release();
    }
  }

  /** Whether a job this schedule created is still Pending or Importing. */
  async hasActiveJob(id: string): Promise<boolean> {
    const r = await this.pool.query<{ busy: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM import_schedule_jobs s JOIN import_jobs j ON j.job_id = s.job_id
                       WHERE s.schedule_id = $1 AND j.state IN ('Pending', 'Importing')) AS busy`,
      [id],
    );
    return r.rows[0]?.busy === true;
  }

  /** The ledger (decision 1401) of the schedule's collection for the URLs asked. */
  async loadedObjects(id: string, urls: readonly string[]): Promise<Map<string, { version: string; size: number }>> {
    if (urls.length === 0) return new Map();
    const r = await this.pool.query<{ url: string; version: string; size: string }>(
      `SELECT l.url, l.version, l.size_bytes::text AS size
         FROM import_schedules s JOIN import_file_ledger l ON l.collection_id = s.collection_id
        WHERE s.id = $1 AND l.url = ANY($2::text[]) AND l.version <> ''`,
      [id, urls],
    );
    return new Map(r.rows.map((x) => [x.url, { version: x.version, size: Number(x.size) }]));
  }

  /** Records a tick's outcome, and the job it created (once per tick number). */
  async recordTick(id: string, tick: number, result: string, jobId?: string): Promise<void> {
    if (jobId !== undefined) {
      await this.pool.query(
        `INSERT INTO import_schedule_jobs (schedule_id, job_id, tick) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [id, jobId, tick],
      );
    }
    await this.pool.query(
      `UPDATE import_schedules SET last_tick_at = now(), last_tick_result = $2,
              last_job_id = coalesce($3, last_job_id) WHERE id = $1`,
      [id, result, jobId ?? null],
    );
  }
}
