import { CodedError } from '@gw/errors';

/** Every failure this lib reports; the API maps each one to a Milvus code via COLLECTIONS_TO_MILVUS. */
export enum CollectionsErrorCode {
  CollectionNotFound = 'COLLECTION_NOT_FOUND',
  PartitionNotFound = 'PARTITION_NOT_FOUND',
  DatabaseNotFound = 'DATABASE_NOT_FOUND',
  InvalidParameter = 'INVALID_PARAMETER',
  MissingParameter = 'MISSING_PARAMETER',
  InsertRejected = 'INSERT_REJECTED',
  BadPrimaryKey = 'BAD_PRIMARY_KEY',
  /** The target or catalog database cannot be reached; the client should retry. */
  Unavailable = 'UNAVAILABLE',
}

export class CollectionsError extends CodedError<CollectionsErrorCode> {}

/** Milvus envelope codes (milvus-io/milvus pkg/util/merr); a new enum member does not compile until mapped. */
export const COLLECTIONS_TO_MILVUS: Record<CollectionsErrorCode, number> = {
  [CollectionsErrorCode.CollectionNotFound]: 100,
  [CollectionsErrorCode.PartitionNotFound]: 200,
  [CollectionsErrorCode.DatabaseNotFound]: 800,
  [CollectionsErrorCode.InvalidParameter]: 1100,
  [CollectionsErrorCode.MissingParameter]: 1802,
  [CollectionsErrorCode.InsertRejected]: 1804,
  [CollectionsErrorCode.BadPrimaryKey]: 1806,
  [CollectionsErrorCode.Unavailable]: 2,
};

export const collectionNotFound = (name: string): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.CollectionNotFound, `collection not found[collection=${name}]`, {
    details: { collection: name },
  });

export const partitionNotFound = (name: string): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.PartitionNotFound, `partition not found[partition=${name}]`, {
    details: { partition: name },
  });

export const databaseNotFound = (name: string): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.DatabaseNotFound, `database not found[database=${name}]`, {
    details: { database: name },
  });

export const invalidParameter = (detail: string): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.InvalidParameter, `invalid parameter: ${detail}`);

export const missingParameter = (names: string): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.MissingParameter, `missing required parameters: ${names}`);

export const insertRejected = (detail: string, cause?: unknown): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.InsertRejected, `fail to deal the insert data: ${detail}`, { cause });

export const badPrimaryKey = (detail: string): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.BadPrimaryKey, `please check the primary key: ${detail}`);

export const unavailable = (cause: unknown): CollectionsError =>
  new CollectionsError(CollectionsErrorCode.Unavailable, 'service unavailable', { retryable: true, cause });
