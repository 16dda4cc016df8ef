export { SinkError, SinkErrorCode, type SinkErrorLocation } from './sink.errors';
export {
  buildCopyLayout,
  encodeBinaryCopy,
  CopyLayout,
  DEFAULT_CHUNK_BYTES,
  type ExtraColumn,
  type LayoutColumn,
  type LayoutInput,
} from './layout';
export {
  copyBatches,
  copyEncoded,
  copySql,
  encodeBatch,
  encodeBatches,
  qualifiedName,
  type CopyEncodedOptions,
  type CopyOptions,
  type EncodedChunk,
  type TableName,
} from './copy';
export { ChunkWriter, releaseChunkParts, returnOnRelease } from './chunk-writer';
export { toSinkError, type ErrorContext } from './errors-map';
export {
  stagingTableSql,
  publishSql,
  publishedCounts,
  groupColumn,
  STAGING_GROUP_COLUMN,
  type ConflictMode,
  type PublishedCounts,
} from './staging';
export {
  copyingBatches,
  JobStaging,
  STAGING_SCHEMA,
  stagingTableName,
  stagingTablePrefix,
  type GroupCopy,
  type JobStagingSpec,
  type PublishHooks,
  fenceEndingOf,
  type FenceEnding,
} from './job-staging';
