import type { CollectionSchema, FieldSchema } from '@gw/schema';

/** How vectors are stored, fixed when the collection is created (spec §3, pgvector rule). */
export interface VectorStorage {
  readonly vectorType: 'pgvector' | 'array';
  /** Float16Vector as pgvector `halfvec` (pgvector ≥ 0.7 present at create), else `bytea`. */
  readonly halfvec: boolean;
}

export interface IndexParam {
  readonly fieldName: string;
  readonly indexName: string;
  readonly metricType: string;
  readonly indexType?: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** Collection-level params of collections/create; only max_length and enableDynamicField act. */
export interface CollectionParams {
  readonly consistencyLevel?: string;
  readonly shardsNum?: number;
  readonly ttlSeconds?: number;
  readonly partitionsNum?: number;
}

/** Everything collections/create asks for, validated and normalised. */
export interface CollectionSpec {
  readonly name: string;
  readonly description: string;
  readonly schema: CollectionSchema;
  readonly indexes: readonly IndexParam[];
  readonly params: CollectionParams;
}

/** A collection as the catalog knows it. */
export interface CollectionDef extends CollectionSpec {
  readonly id: number;
  readonly db: string;
  readonly storage: VectorStorage;
}

export function primaryField(schema: CollectionSchema): FieldSchema {
  const pk = schema.fields.find((f) => f.isPrimary);
  if (!pk) throw new Error('schema without primary field');
  return pk;
}
