import type { PoolClient } from 'pg';
import type { CollectionDef } from '@gw/collections';
import type { RowBatch } from '@gw/schema';

/**
 * Where a job's rows go (docs/decisions/0005-atomic-resumable-jobs.md): each file group is copied
 * into the job's staging table and committed on its own (resumable), then one transaction
 * publishes every staged row into the collection table and marks the job Completed (atomic).
 */
export interface ImportSink {
  /** Creates the staging table if it does not exist yet (a resumed job keeps its staged groups). */
  prepare(client: PoolClient, stagingTable: string, collection: CollectionDef): Promise<void>;
  /** Removes what an interrupted attempt left of one group. */
  clearGroup(client: PoolClient, stagingTable: string, group: number): Promise<void>;
  /** Copies one group's batches into staging (inside the caller's transaction). */
  copyGroup(
    client: PoolClient,
    stagingTable: string,
    collection: CollectionDef,
    group: number,
    batches: AsyncIterable<RowBatch>,
    signal: AbortSignal,
  ): Promise<number>;
  /** INSERT … SELECT from staging into the collection (inside the caller's transaction); returns rows. */
  publish(client: PoolClient, stagingTable: string, collection: CollectionDef, partition: string): Promise<number>;
  drop(client: PoolClient, stagingTable: string): Promise<void>;
}
