export { QueueModule, RedisModule, REDIS_PRODUCER, REDIS_PROBE, REDIS_QUEUE } from './queues/queue.module';
export { createRedis, pingRedis, type RedisPurpose } from './queues/redis';
export { bootProcess } from './runtime/boot';
export { describePreflightFailure, preflight, type PreflightFailure } from './runtime/preflight';
export { ACTIVE_JOB_LIMIT_MESSAGE, JobsError, JobsErrorCode, jobsErrors } from './jobs.errors';
export { newJobId, JOB_ID_PATTERN } from './import/job-id';
export {
  CredentialsCipher,
  keyIdOf,
  type SealedCredentials,
  type StoredCredentials,
} from './import/credentials-cipher';
export {
  normalizeCreateRequest,
  readCreateHead,
  validateIdempotencyKey,
  type FileGroupSpec,
  type NormalizedCreateRequest,
  type RequestBody,
} from './import/create-request';
export {
  exceedsBadRowLimit,
  parseBadRowLimit,
  parseImportExtensions,
  type BadRowLimit,
  type ConflictMode,
  type ErrorMode,
  type ImportExtensions,
} from './import/extension-options';
export { CollectionsImportCatalog, type ImportCatalog } from './import/import-catalog';
export {
  CreateImportJob,
  type CreateImportJobCommand,
  type CreateImportJobResult,
} from './import/create-import-job.usecase';
export {
  CancelImportJob,
  DEFAULT_PAGE_SIZE,
  DescribeImportJob,
  ListImportJobs,
  MAX_PAGE_SIZE,
  parseStateFilter,
  UNPAGED_LIMIT,
  type JobView,
  type ListJobsQuery,
  type ListJobsResult,
} from './import/query-import-jobs.usecase';
export { IMPORT_JOB_QUEUE, ImportJobsModule } from './import/import-jobs.module';
export { jobEventsV2, ListJobEvents, type JobEvents } from './import/job-events.usecase';
export {
  DEFAULT_REJECTS_PAGE,
  MAX_REJECTS_PAGE,
  ReadJobRejects,
  type ReadRejectsQuery,
} from './import/read-rejects.usecase';
export { checkBadRows, RejectCollector, TooManyRejectedRows } from './import/rejects';
export {
  BullJobQueue,
  IMPORT_JOB_NAME,
  importJobData,
  importQueueName,
  type ImportJobData,
  type JobQueue,
} from './queues/import/import-queue';
export { FairDispatcher, type DispatcherOptions, type JobHandler } from './queues/import/dispatcher';
export { ReadySet, readyKeys } from './queues/import/ready-set';
export { Reconciler, type ReconcileResult } from './import/reconciler';
export {
  FatalImportError,
  RetryableImportError,
  RunImportJob,
  type RunImportDeps,
  type RunOutcome,
  type RunResult,
} from './import/run-import.usecase';
export type { ImportObserver } from './import/observer';
export { sweepSpoolFiles } from './import/plan';
export {
  ChunkQueue,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_PIECE_BYTES,
  ParsePool,
  parseThreadEntry,
  stageGroup,
  stageUnits,
  type StageGroupInput,
  type StageUnit,
  type StageGroupOptions,
} from './pipeline';
export { describeV1, describeV2, jobProgress, listRecordV2, rfc3339, v1State, v2State } from './import/job-presenter';
export { isLoaded, type LedgerEntry } from './import/skip-imported';
export {
  ManageImportSchedules,
  MIN_SCHEDULE_INTERVAL_MS,
  parseInterval,
  presentSchedule,
  SCHEDULE_ID_PATTERN,
  type CreateScheduleCommand,
} from './schedules/manage-schedules.usecase';
export {
  SCHEDULE_QUEUE,
  SCHEDULE_TICK_NAME,
  ScheduleQueue,
  scheduleTickData,
  type ScheduleTickData,
} from './schedules/schedule-queue';
export { RunScheduleTick, type TickOutcome } from './schedules/schedule-tick.usecase';
export { ImportSchedulesModule } from './schedules/schedules.module';
