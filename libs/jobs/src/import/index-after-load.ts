import type { Pool } from 'pg';
import { buildVectorIndexes, type CollectionDef, pgRunner, planVectorIndexes } from '@gw/collections';
import type { JobPhasesRepository, PhaseWriter, RunRef } from '@gw/db';
import { withClient } from '@gw/pg';

/** Advisory-lock namespace of index builds (first key); the second is the job's or collection's. */
const INDEX_LOCK_NAMESPACE = 1768187904;
/** An `indexing` phase Running this long whose builder holds no lock was abandoned by its worker. */
export const INDEXING_STALE_MS = 60_000;

export type IndexPhasesPort = Pick<JobPhasesRepository, 'start' | 'end' | 'skip'>;

const jobLockKey = (id: string): number => Number(BigInt(id) % 2147483647n);

/** A stable 31-bit key of a collection's table, so two jobs of one collection build one at a time. */
function collectionLockKey(def: CollectionDef): number {
  let h = 0;
  for (const ch of `${def.db}\u0000${def.name}`) h = (Math.imul(h, 31) + ch.codePointAt(0)!) | 0;
  return h & 0x7fffffff;
}

/**
 * The `indexing` phase (issue 16 point 8, decision 1601): after a job's rows are published and the
 * job is Completed, builds the pgvector indexes given at collection create. The job's answer does
 * not wait for it and does not change with it: describe reports the index state apart. A build
 * never throws; its outcome is the phase's state and message. The builder's session holds an
 * advisory lock on the job for the whole build, so the reconciler can tell a build in progress
 * from one whose worker died (failAbandonedIndexing).
 */
export class IndexAfterLoad {
  constructor(
    private readonly target: Pool,
    private readonly phases: IndexPhasesPort,
    private readonly opts: { enabled: boolean; concurrently?: boolean },
  ) {}

  /**
   * Records the `indexing` phase of a load: Skipped with the reasons when no index can be built,
   * else Running. Written with the job's completion (`q`: its transaction) so a Completed job always
   * shows its index state. Answers whether `build` has work to do.
   */
  async begin(run: RunRef, def: CollectionDef, q?: PhaseWriter): Promise<boolean> {
    if (!this.opts.enabled) return false;
    const plans = planVectorIndexes(def);
    if (plans.length === 0) return false;
    if (plans.every((p) => p.kind === 'skip')) {
      const reasons = plans.map((p) => `${p.indexName}: ${p.kind === 'skip' ? p.reason : ''}`).join('; ');
      await this.phases.skip(run, 'indexing', reasons, ...(q === undefined ? [] : [q]));
      return false;
    }
    await this.phases.start(run, 'indexing', q === undefined ? {} : { q });
    return true;
  }

  /** Builds the indexes of a load `begin` found work for; ends the phase Done or Failed. */
  async build(run: RunRef, def: CollectionDef): Promise<void> {
    let state: 'Done' | 'Failed' = 'Failed';
    let message: string;
    try {
      const results = await withClient(this.target, async (c) => {
        // A build may take hours: the role's statement and lock timeouts are for queries, not this.
        await c.query(`SET statement_timeout = 0`);
        await c.query(`SET lock_timeout = 0`);
        await c.query(`SELECT pg_advisory_lock($1, $2)`, [INDEX_LOCK_NAMESPACE, jobLockKey(run.id)]);
        await c.query(`SELECT pg_advisory_lock($1, $2)`, [INDEX_LOCK_NAMESPACE, -1 - collectionLockKey(def)]);
        try {
          return await buildVectorIndexes(pgRunner(c), def, { concurrently: this.opts.concurrently ?? true });
        } finally {
          await c.query(`SELECT pg_advisory_unlock_all()`);
          await c.query(`RESET statement_timeout`);
          await c.query(`RESET lock_timeout`);
        }
      });
      state = results.some((r) => r.state === 'Failed') ? 'Failed' : 'Done';
      message = results.map((r) => `${r.indexName}: ${r.message}`).join('; ');
    } catch (e) {
      message = e instanceof Error ? e.message : String(e);
    }
    await this.phases.end(run, 'indexing', { state, message }).catch(() => undefined);
  }
}

/**
 * The reconciler's part: an `indexing` phase still Running long after it started, whose job lock
 * nobody holds in the target database, lost its worker; it is marked Failed (the next load builds
 * again, dropping an index an interrupted concurrent build left INVALID). Returns how many.
 */
export async function failAbandonedIndexing(
  phases: Pick<JobPhasesRepository, 'runningIndexBuilds' | 'failAbandoned'>,
  target: Pool,
  staleMs = INDEXING_STALE_MS,
): Promise<number> {
  let failed = 0;
  for (const b of await phases.runningIndexBuilds(staleMs)) {
    const free = await withClient(target, async (c) => {
      const r = await c.query<{ got: boolean }>(`SELECT pg_try_advisory_lock($1, $2) AS got`, [
        INDEX_LOCK_NAMESPACE,
        jobLockKey(b.id),
      ]);
      if (r.rows[0]?.got === true)
        await c.query(`SELECT pg_advisory_unlock($1, $2)`, [INDEX_LOCK_NAMESPACE, jobLockKey(b.id)]);
      return r.rows[0]?.got === true;
    });
    if (free && (await phases.failAbandoned(b.id, 'the worker stopped while building the index'))) failed++;
  }
  return failed;
}
