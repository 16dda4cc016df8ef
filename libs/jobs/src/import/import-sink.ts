import type { PoolClient } from 'pg';
import type { CollectionDef } from '@gw/collections';
import type { RowBatch } from '@gw/schema';

/** The staging table of one job and what its rows are for. */
export interface StagingSpec {
  table: { schema: string; name: string };
  collection: CollectionDef;
  /** Partition every row of the job goes to. */
  partition: string;
}

/**
 * Where a job's rows go (docs/decisions/0005-atomic-resumable-jobs.md): each file group is copied
 * into the job's staging table and committed on its own (resumable), then one transaction
 * publishes every staged row into the collection table and marks the job Completed (atomic).
 */
export interface ImportSink {
  /** Creates the staging table unless it exists (a resumed job keeps its staged groups). */
  prepare(client: PoolClient, spec: StagingSpec): Promise<void>;
  /** Removes what an interrupted attempt left of one group. */
  clearGroup(client: PoolClient, spec: StagingSpec, group: number): Promise<void>;
  /** Copies one group's batches into staging (inside the caller's transaction); returns rows. */
  copyGroup(
    client: PoolClient,
    spec: StagingSpec,
    group: number,
    batches: AsyncIterable<RowBatch>,
    signal: AbortSignal,
  ): Promise<number>;
  /** INSERT … SELECT from staging into the collection (inside the caller's transaction); returns rows. */
  publish(client: PoolClient, spec: StagingSpec): Promise<number>;
  drop(client: PoolClient, spec: StagingSpec): Promise<void>;
}
