import type { Pool, PoolClient } from 'pg';
import type { RowBatch } from '@gw/schema';
import { ignoreAlreadyExists, inTransaction, quoteIdent, withClient } from '@gw/pg';
import { copyBatches, qualifiedName, type TableName } from './copy';
import { toSinkError } from './errors-map';
import { buildCopyLayout, type CopyLayout, type LayoutInput } from './layout';
import { SinkError, SinkErrorCode } from './sink.errors';
import {
  type ConflictMode,
  groupColumn,
  publishedCounts,
  type PublishedCounts,
  publishSql,
  STAGING_GROUP_COLUMN,
  stagingTableSql,
} from './staging';
import { PARTITION_COLUMN } from '@gw/schema';

/** Schema of every staging table and of the two bookkeeping tables below, in the target database. */
export const STAGING_SCHEMA = 'igw_staging';
const RUNS = `${quoteIdent(STAGING_SCHEMA)}.job_runs`;
const GROUPS = `${quoteIdent(STAGING_SCHEMA)}.staged_groups`;

/**
 * How long a closed fence row outlives its job's end. A run that stalled past its lease and only
 * then begins still meets it (and stops); an hour is far beyond any lease.
 */
const CLOSED_FENCE_KEEP_MS = 3_600_000;

/** How a job ended, as recorded on its closed fence (decision 0503). */
export interface FenceEnding {
  state: 'Failed' | 'Cancelled';
  reason: string;
}

/** Staging tables of one installation are named `j_<installation>_<job id>`. */
export const stagingTableName = (installation: string, jobPk: string): string => `j_${installation}_${jobPk}`;
export const stagingTablePrefix = (installation: string): string => `j_${installation}_`;

/** One job's staging: where its rows go first, where they are published, and the run writing them. */
export interface JobStagingSpec {
  /** The staging table (schema STAGING_SCHEMA). */
  readonly table: TableName;
  /** The collection table rows are published into. */
  readonly target: TableName;
  /** The collection's layout (fields, vector storage, dynamic field), without extra columns. */
  readonly layout: Omit<LayoutInput, 'extra'>;
  readonly partition: string;
  /** The job's external id, kept with the fence for operators. */
  readonly jobId: string;
  /** This run's fencing token (import_jobs.run_token at acquire). */
  readonly token: bigint;
  /** What publish does with a key the collection already holds (default `error`). */
  readonly conflict?: ConflictMode;
}

/** Told when publish has checked the staged rows, before it writes them (the `validating` phase ends). */
export interface PublishHooks {
  validated?: (stagedRows: number) => Promise<void>;
}

/**
 * Staging of import jobs in the target database (decision 0005, fencing in 0501): each file
 * group is COPYed and committed on its own together with its row count in `staged_groups`; one
 * transaction publishes every staged row. Every commit first checks, under a row lock on the
 * job's `job_runs` row, that this run's token is still the newest, so a run that lost its lease
 * can never commit a group or publish. A group is recorded once (primary key), and publish checks
 * the staged rows of every group against the recorded counts.
 */
export class JobStaging {
  constructor(private readonly pool: Pool) {}

  /**
   * Creates the staging schema and bookkeeping tables once per pool (idempotent, race-tolerant):
   * a process holds several JobStaging objects over one pool (runs, reconciler, endings).
   */
  async ensureSchema(): Promise<void> {
    let ready = schemaReady.get(this.pool);
    if (ready === undefined) {
      ready = createSchema(this.pool);
      schemaReady.set(this.pool, ready);
      ready.catch(() => schemaReady.delete(this.pool)); // the next call tries again
    }
    await ready;
  }

  /**
   * Raises the job's fence to this run's token and creates its staging table. Returns the groups
   * already staged (by any earlier run: each was committed whole with its count) and whether an
   * earlier run already published. Throws FenceLost when a newer run holds the fence.
   */
  async begin(spec: JobStagingSpec): Promise<{ staged: Map<number, number>; publishedRows: number | null }> {
    await this.ensureSchema();
    return inTransaction(this.pool, async (c) => {
      const r = await c.query<FenceRow>(
        `INSERT INTO ${RUNS} (staging_table, job_id, token) VALUES ($1, $2, $3)
         ON CONFLICT (staging_table) DO UPDATE SET token = GREATEST(${RUNS}.token, EXCLUDED.token)
         RETURNING ${FENCE_COLUMNS}`,
        [spec.table.name, spec.jobId, spec.token.toString()],
      );
      const row = r.rows[0]!;
      assertFenceOpen(spec, row);
      if (BigInt(row.token) !== spec.token) throw fenceLost(spec, BigInt(row.token));
      const exists = await c.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
        qualifiedName(spec.table),
      ]);
      if (exists.rows[0]?.t == null) {
        // UNLOGGED: staged rows are written once to the WAL (when published), not twice. A server
        // crash empties the table; the ledger below then no longer matches and is corrected.
        await c.query(stagingTableSql(spec.table.schema, spec.table.name, layoutOf(spec, 0), { unlogged: true }));
      }
      const published = row.published === null ? null : Number(row.published);
      let staged = await stagedGroups(c, spec.table.name);
      if (staged.size > 0 && published === null) staged = await forgetLostGroups(c, spec, staged);
      return { staged, publishedRows: published };
    });
  }

  /** Groups already staged (committed with their row counts), by group index. */
  async staged(tableName: string): Promise<Map<number, number>> {
    await this.ensureSchema();
    return withClient(this.pool, (c) => stagedGroups(c, tableName));
  }

  /**
   * Copies one group in one transaction that also records its row count, after checking the
   * fence (the check comes after the COPY, so a newer run waits at most for a commit, never for
   * a COPY). `alsoInTransaction` runs on the same client before COMMIT (same-database job tables
   * mark the file Completed atomically with its rows).
   */
  async stageGroup(
    spec: JobStagingSpec,
    group: number,
    copy: GroupCopy,
    signal: AbortSignal,
    alsoInTransaction?: (c: PoolClient, rows: number) => Promise<void>,
  ): Promise<number> {
    return inTransaction(this.pool, async (c) => {
      const rows = await copy(c, spec.table, layoutInputOf(spec, group));
      signal.throwIfAborted();
      await checkFence(c, spec, 'SHARE');
      await c
        .query(`INSERT INTO ${GROUPS} (staging_table, group_index, rows, token) VALUES ($1, $2, $3, $4)`, [
          spec.table.name,
          group,
          rows,
          spec.token.toString(),
        ])
        .catch((e: unknown) => {
          if ((e as { code?: unknown }).code === '23505')
            throw fenceLost(spec, null, `group ${group} was staged by another run`);
          throw e;
        });
      if (alsoInTransaction) await alsoInTransaction(c, rows);
      return rows;
    });
  }

  /**
   * A one-group job's publish without staging: COPYs straight into the collection, then, in the
   * same transaction, checks the fence, records the publish and runs `alsoInTransaction` (the
   * job's completion when the job tables share the database).
   */
  async publishDirect(
    spec: JobStagingSpec,
    copy: GroupCopy,
    signal: AbortSignal,
    alsoInTransaction?: (c: PoolClient, rows: number) => Promise<void>,
  ): Promise<number> {
    return inTransaction(this.pool, async (c) => {
      const layout: LayoutInput = {
        ...spec.layout,
        extra: [{ name: PARTITION_COLUMN, type: 'text', value: spec.partition }],
      };
      const rows = await copy(c, spec.target, layout);
      signal.throwIfAborted();
      const fence = await checkFence(c, spec, 'UPDATE');
      if (fence.published !== null) throw fenceLost(spec, null, 'another run published the job');
      await recordPublished(c, spec, rows);
      if (alsoInTransaction) await alsoInTransaction(c, rows);
      return rows;
    });
  }

  /**
   * Publishes every staged row into the collection in the caller's transaction (opened with
   * `inPublishTransaction`), after checking the fence and that each expected group's staged rows
   * equal its recorded count. A group whose rows differ is removed so the next run stages it
   * again (SinkError StagedCountMismatch, retryable).
   */
  async inPublishTransaction<T>(
    spec: JobStagingSpec,
    expectedGroups: readonly number[],
    run: (c: PoolClient, publish: (hooks?: PublishHooks) => Promise<PublishedCounts>) => Promise<T>,
  ): Promise<T> {
    return inTransaction(this.pool, async (c) => {
      const fence = await checkFence(c, spec, 'UPDATE');
      const publish = async (hooks: PublishHooks = {}): Promise<PublishedCounts> => {
        // An earlier run published, then died before completing the job.
        if (fence.published !== null) {
          await hooks.validated?.(fence.published);
          return { rows: fence.published, conflictRows: 0 };
        }
        const staged = await this.verifyCounts(c, spec, expectedGroups);
        await hooks.validated?.(staged);
        const layout = layoutOf(spec, 0);
        const mode = spec.conflict ?? 'error';
        let counts: PublishedCounts;
        try {
          counts = publishedCounts(mode, await c.query(publishSql(spec.target, spec.table, layout, mode)), staged);
        } catch (e) {
          throw toSinkError(e, { layout });
        }
        await recordPublished(c, spec, counts.rows);
        return counts;
      };
      return run(c, publish);
    });
  }

  /** Checks staged rows per group against the recorded counts; answers the staged total. */
  private async verifyCounts(c: PoolClient, spec: JobStagingSpec, expectedGroups: readonly number[]): Promise<number> {
    const recorded = await stagedGroups(c, spec.table.name);
    const actual = await stagedRowCounts(c, spec);
    const broken: number[] = [];
    const bad: string[] = [];
    for (const g of new Set([...expectedGroups, ...actual.keys()])) {
      const want = recorded.get(g);
      const have = actual.get(g) ?? 0;
      if (want !== have || !expectedGroups.includes(g)) {
        broken.push(g);
        bad.push(`group ${g}: ${have} rows staged, ${want ?? 'none'} recorded`);
      }
    }
    if (broken.length === 0) return [...actual.values()].reduce((a, n) => a + n, 0);
    // Outside the publish transaction (it rolls back): remove what cannot be trusted.
    await withClient(this.pool, (c2) => removeGroups(c2, spec, broken));
    throw new SinkError(
      SinkErrorCode.StagedCountMismatch,
      `staged rows differ from the recorded counts (${bad.join('; ')}); those groups will be staged again`,
      { retryable: true, details: { groups: broken } },
    );
  }

  /**
   * Closes a job's fence so that no run can stage or publish it any more, and answers the rows a
   * run already published (null: none). Waits for a publish in flight (row lock). Used before a
   * job that may have run ends other than Completed (decision 0503); idempotent.
   */
  async close(tableName: string, jobId: string, ending: FenceEnding): Promise<number | null> {
    await this.ensureSchema();
    const r = await this.pool.query<{ published: string | null }>(
      `INSERT INTO ${RUNS} AS f (staging_table, job_id, token, closed_at, closed_state, closed_reason)
       VALUES ($1, $2, 0, now(), $3, $4)
       ON CONFLICT (staging_table) DO UPDATE SET closed_at = coalesce(f.closed_at, now()),
              closed_state = coalesce(f.closed_state, EXCLUDED.closed_state),
              closed_reason = coalesce(f.closed_reason, EXCLUDED.closed_reason)
       RETURNING published_rows::text AS published`,
      [tableName, jobId, ending.state, ending.reason],
    );
    const published = r.rows[0]?.published ?? null;
    return published === null ? null : Number(published);
  }

  /**
   * Drops a terminal job's staging table and group records (idempotent). Its fence row stays,
   * closed, for CLOSED_FENCE_KEEP_MS (`forgetClosed`), so a stalled run cannot start over.
   */
  async drop(tableName: string): Promise<void> {
    await this.ensureSchema();
    await withClient(this.pool, async (c) => {
      await c.query(`DROP TABLE IF EXISTS ${quoteIdent(STAGING_SCHEMA)}.${quoteIdent(tableName)}`);
      await c.query(`DELETE FROM ${GROUPS} WHERE staging_table = $1`, [tableName]);
      await c.query(
        `UPDATE ${RUNS} SET closed_at = now(), closed_state = 'Failed', closed_reason = 'the job ended'
          WHERE staging_table = $1 AND closed_at IS NULL`,
        [tableName],
      );
    });
  }

  /** Deletes fence rows closed longer ago than CLOSED_FENCE_KEEP_MS (one installation's). */
  async forgetClosed(installation: string, keepMs = CLOSED_FENCE_KEEP_MS): Promise<number> {
    await this.ensureSchema();
    const r = await this.pool.query(
      `DELETE FROM ${RUNS} WHERE starts_with(staging_table, $1)
          AND closed_at < now() - make_interval(secs => $2 / 1000.0)`,
      [stagingTablePrefix(installation), keepMs],
    );
    return r.rowCount ?? 0;
  }

  /** Staging tables of one installation (tables and bookkeeping rows), for clean-up. */
  async listTables(installation: string): Promise<string[]> {
    await this.ensureSchema();
    const prefix = stagingTablePrefix(installation);
    const r = await this.pool.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND starts_with(tablename, $2)
       UNION SELECT staging_table FROM ${RUNS} WHERE starts_with(staging_table, $2) AND closed_at IS NULL`,
      [STAGING_SCHEMA, prefix],
    );
    return r.rows.map((x) => x.name);
  }
}

/** The staging layout of one group: the collection's columns plus `$partition` and `$group`. */
function layoutInputOf(spec: JobStagingSpec, group: number): LayoutInput {
  return {
    ...spec.layout,
    extra: [{ name: PARTITION_COLUMN, type: 'text', value: spec.partition }, groupColumn(group)],
  };
}

function layoutOf(spec: JobStagingSpec, group: number): CopyLayout {
  return buildCopyLayout(layoutInputOf(spec, group));
}

/**
 * Streams one group's rows into `table` with binary COPY on the given client (inside the staging
 * transaction) and returns the row count: plain batches (`copyingBatches`) or the staging pipeline.
 */
export type GroupCopy = (client: PoolClient, table: TableName, layout: LayoutInput) => Promise<number>;

/** A GroupCopy of row batches on this thread (copyBatches). */
export function copyingBatches(batches: AsyncIterable<RowBatch>, signal: AbortSignal): GroupCopy {
  return async (c, table, layout) => (await copyBatches(c, table, buildCopyLayout(layout), batches, { signal })).rows;
}

async function stagedGroups(c: PoolClient, table: string): Promise<Map<number, number>> {
  const r = await c.query<{ g: number; n: string }>(
    `SELECT group_index AS g, rows::text AS n FROM ${GROUPS} WHERE staging_table = $1`,
    [table],
  );
  return new Map(r.rows.map((x) => [x.g, Number(x.n)]));
}

/**
 * A resumed run trusts only recorded groups whose rows are all there: after a PostgreSQL crash
 * the unlogged staging table is empty while the ledger still lists its groups.
 */
async function forgetLostGroups(
  c: PoolClient,
  spec: JobStagingSpec,
  recorded: Map<number, number>,
): Promise<Map<number, number>> {
  const actual = await stagedRowCounts(c, spec);
  const lost = [...recorded].filter(([g, n]) => actual.get(g) !== n).map(([g]) => g);
  if (lost.length === 0) return recorded;
  await removeGroups(c, spec, lost);
  return new Map([...recorded].filter(([g]) => !lost.includes(g)));
}

/** Schema creation per pool, shared by every JobStaging over it. */
const schemaReady = new WeakMap<Pool, Promise<void>>();

async function createSchema(pool: Pool): Promise<void> {
  await withClient(pool, async (c) => {
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(STAGING_SCHEMA)}`).catch(ignoreAlreadyExists);
    await c
      .query(
        `CREATE TABLE IF NOT EXISTS ${RUNS} (staging_table text PRIMARY KEY, job_id text NOT NULL,
           token bigint NOT NULL, published_rows bigint, published_at timestamptz,
           created_at timestamptz NOT NULL DEFAULT now(),
           closed_at timestamptz, closed_state text, closed_reason text)`,
      )
      .catch(ignoreAlreadyExists);
    // A closed fence (decision 0503), for installations whose table predates it. Only when missing:
    // ALTER TABLE takes an exclusive lock, which would queue behind a long publish holding a fence
    // row and stall every fence check behind it.
    const closed = await c.query(
      `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'job_runs' AND column_name = 'closed_reason'`,
      [STAGING_SCHEMA],
    );
    if (closed.rowCount === 0) {
      await c.query(
        `ALTER TABLE ${RUNS} ADD COLUMN IF NOT EXISTS closed_at timestamptz,
           ADD COLUMN IF NOT EXISTS closed_state text, ADD COLUMN IF NOT EXISTS closed_reason text`,
      );
    }
    await c
      .query(
        `CREATE TABLE IF NOT EXISTS ${GROUPS} (staging_table text NOT NULL, group_index integer NOT NULL,
           rows bigint NOT NULL, token bigint NOT NULL, staged_at timestamptz NOT NULL DEFAULT now(),
           PRIMARY KEY (staging_table, group_index))`,
      )
      .catch(ignoreAlreadyExists);
  });
}

/** Rows actually in the staging table, by group. */
async function stagedRowCounts(c: PoolClient, spec: JobStagingSpec): Promise<Map<number, number>> {
  const r = await c.query<{ g: number; n: string }>(
    `SELECT ${quoteIdent(STAGING_GROUP_COLUMN)} AS g, count(*)::text AS n FROM ${qualifiedName(spec.table)} GROUP BY 1`,
  );
  return new Map(r.rows.map((x) => [x.g, Number(x.n)]));
}

/** Deletes groups' rows and their records, so they are staged again. */
async function removeGroups(c: PoolClient, spec: JobStagingSpec, groups: readonly number[]): Promise<void> {
  await c.query(`DELETE FROM ${qualifiedName(spec.table)} WHERE ${quoteIdent(STAGING_GROUP_COLUMN)} = ANY($1::int[])`, [
    groups,
  ]);
  await c.query(`DELETE FROM ${GROUPS} WHERE staging_table = $1 AND group_index = ANY($2::int[])`, [
    spec.table.name,
    groups,
  ]);
}

async function recordPublished(c: PoolClient, spec: JobStagingSpec, rows: number): Promise<void> {
  await c.query(`UPDATE ${RUNS} SET published_rows = $2, published_at = now() WHERE staging_table = $1`, [
    spec.table.name,
    rows,
  ]);
}

const FENCE_COLUMNS = `token::text, published_rows::text AS published, closed_state AS "closedState", closed_reason AS "closedReason"`;

interface FenceRow {
  token: string;
  published: string | null;
  closedState: FenceEnding['state'] | null;
  closedReason: string | null;
}

async function checkFence(
  c: PoolClient,
  spec: JobStagingSpec,
  lock: 'SHARE' | 'UPDATE',
): Promise<{ published: number | null }> {
  const r = await c.query<FenceRow>(`SELECT ${FENCE_COLUMNS} FROM ${RUNS} WHERE staging_table = $1 FOR ${lock}`, [
    spec.table.name,
  ]);
  const row = r.rows[0];
  if (row === undefined) throw fenceLost(spec, null, 'its staging was dropped');
  assertFenceOpen(spec, row);
  if (BigInt(row.token) !== spec.token) throw fenceLost(spec, BigInt(row.token));
  return { published: row.published === null ? null : Number(row.published) };
}

/** A closed fence stops every run — unless the job's rows were published first (then it completes). */
function assertFenceOpen(spec: JobStagingSpec, row: FenceRow): void {
  if (row.closedState === null || row.published !== null) return;
  const ending: FenceEnding = { state: row.closedState, reason: row.closedReason ?? '' };
  throw new SinkError(SinkErrorCode.FenceClosed, `run ${spec.token} of ${spec.jobId} stopped: the job was ended`, {
    details: { jobId: spec.jobId, state: ending.state, reason: ending.reason },
  });
}

/** The ending a FenceClosed error carries. */
export function fenceEndingOf(e: SinkError): FenceEnding | undefined {
  const d = e.details as { state?: unknown; reason?: unknown } | undefined;
  if (e.code !== SinkErrorCode.FenceClosed || (d?.state !== 'Failed' && d?.state !== 'Cancelled')) return undefined;
  return { state: d.state, reason: typeof d.reason === 'string' ? d.reason : '' };
}

function fenceLost(spec: JobStagingSpec, newer: bigint | null, why?: string): SinkError {
  return new SinkError(
    SinkErrorCode.FenceLost,
    `run ${spec.token} of ${spec.jobId} lost its fence: ${why ?? `run ${newer ?? '?'} took the job over`}`,
    { details: { jobId: spec.jobId, token: spec.token.toString(), newer: newer?.toString() ?? null } },
  );
}
