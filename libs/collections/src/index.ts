export { CollectionsError, CollectionsErrorCode, COLLECTIONS_TO_MILVUS } from './collections.errors';
export type { CollectionsContext } from './context';
export type { CollectionDef, CollectionSpec, IndexParam, VectorStorage } from './model';
export { JsonInt64, RawJson, serializeJson, float32Shortest, type JsonOut, type SerializeOptions } from './json-out';
export { pgRunner, quoteIdent, tableRef, pgSchemaName, type SqlRunner } from './sql';
export {
  detectPgvector,
  chooseVectorStorage,
  columnType,
  createTableSql,
  createCollectionTable,
  PGVECTOR_MAX_DIM,
  type PgvectorInfo,
  type PgvectorMode,
} from './ddl';
export { parseCreateCollection } from './create-request';
export { checkName, NAME_LIMITS, type NameKind } from './names';
export { parseFilter, compileFilter, type FilterAst } from './filter';
export { DEFAULT_DB, DEFAULT_PARTITION, resolveDatabase, requireCollection as getCollection } from './catalog';
export { buildInsert, runInsert } from './rows';
export {
  createCollection,
  describeCollection,
  listCollections,
  hasCollection,
  dropCollection,
  getCollectionStats,
  loadCollection,
  releaseCollection,
  flushCollection,
  getLoadState,
  createIndex,
  listIndexes,
  createPartition,
  listPartitions,
  hasPartition,
  dropPartition,
  getPartitionStats,
  createDatabase,
  listDatabases,
  dropDatabase,
  MAX_PARTITIONS,
  type DescribeData,
  type DescribeField,
  type Empty,
} from './collections.use-cases';
export {
  insertEntities,
  queryEntities,
  getEntities,
  deleteEntities,
  buildQuery,
  buildGet,
  runQuery,
  parseIds,
  MAX_QUERY_WINDOW,
  type InsertRequest,
  type InsertResult,
  type IdInput,
} from './entities.use-cases';
export {
  buildVectorIndexes,
  planVectorIndex,
  planVectorIndexes,
  vectorIndexPgName,
  type VectorIndexPlan,
  type VectorIndexResult,
} from './vector-indexes';
