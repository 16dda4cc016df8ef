import type { Pool } from 'pg';
import {
  type CollectionsContext,
  DEFAULT_DB,
  DEFAULT_PARTITION,
  getCollection,
  hasPartition,
  resolveDatabase,
} from '@gw/collections';
import { jobsErrors } from '../jobs.errors';

/** What admission learns about the target collection. */
export interface ImportTarget {
  /** Files one NumPy group may hold: one per schema field, plus `$meta`. */
  maxGroupFiles: number;
  /** The primary key is generated (autoID): rows carry no key, so on_conflict skip/upsert mean nothing. */
  autoIdPrimaryKey?: boolean;
}

/** What admission needs to know about the target collection. */
export interface ImportCatalog {
  /** Database (800), collection (100) and partition (200) must exist; a partition-key collection refuses a partition (1100). */
  checkTarget(dbName: string, collectionName: string, partitionName: string | undefined): Promise<ImportTarget>;
  /**
   * The request's database must exist (800): import-api.md §2 holds for every route, also those
   * that find a job or schedule by id alone (decision 1701).
   */
  checkDatabase(dbName: string): Promise<void>;
}

/** The catalog kept by libs/collections (gateway_* tables). */
export class CollectionsImportCatalog implements ImportCatalog {
  private readonly ctx: CollectionsContext;

  constructor(catalog: Pool, target: Pool) {
    this.ctx = { catalog, target, config: { pgvector: 'auto' } };
  }

  async checkDatabase(dbName: string): Promise<void> {
    // `default` always exists: routes that need its schema create it on first use; a read need not.
    if (dbName === DEFAULT_DB) return;
    await resolveDatabase(this.ctx, dbName);
  }

  async checkTarget(dbName: string, collectionName: string, partitionName: string | undefined): Promise<ImportTarget> {
    const def = await getCollection(this.ctx, dbName, collectionName);
    const target = {
      maxGroupFiles: def.schema.fields.length + 1,
      autoIdPrimaryKey: def.schema.fields.some((f) => f.isPrimary && f.autoId),
    };
    if (partitionName === undefined || partitionName === DEFAULT_PARTITION) return target;
    const { has } = await hasPartition(this.ctx, dbName, { collectionName, partitionName });
    if (!has) throw jobsErrors.partitionNotFound(partitionName);
    if (def.schema.fields.some((f) => f.isPartitionKey)) {
      throw jobsErrors.invalid(`partitionName is not allowed: collection ${collectionName} has a partition key field`);
    }
    return target;
  }
}
