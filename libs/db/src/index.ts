export { createPool, DbModule, JOB_DB_POOL, pgSessionConfig, TARGET_DB_POOL } from './db.module';
export {
  findMigrationsDir,
  migrate,
  MIGRATION_LOCK_KEY,
  MigrationError,
  pendingMigrations,
  readMigrations,
  type MigrateResult,
  type MigrationFile,
} from './migrate';
export { createPrismaClient, Prisma, PrismaClient } from './prisma';
export {
  ImportJobsRepository,
  MAX_JOB_EVENTS,
  type AdmitResult,
  type JobEventRow,
  type JobFileRow,
  type JobListRow,
  type JobRow,
  type ListFilter,
  type NewJob,
  type NewJobFile,
} from './import-jobs.repository';
export {
  ACTIVE_STATES,
  canMove,
  completeJob,
  endJob,
  finishJob,
  IllegalTransitionError,
  isActive,
  JOB_TRANSITIONS,
  TERMINAL_STATES,
  type FileState,
  type JobEnding,
  type JobState,
  type PublishedRowsCheck,
  type TerminalState,
} from './import-job-state';
export {
  JobRunsRepository,
  type AcquireResult,
  type FileProgress,
  type JobRun,
  type RenewResult,
  type RunRef,
  type StoredCredentialsRow,
} from './job-runs.repository';
export {
  ApiKeysRepository,
  generateApiKey,
  grants,
  hashApiKey,
  SCOPES,
  type ApiKeyRecord,
  type Scope,
} from './api-keys.repository';
export { VolumesRepository, type DeleteVolumeResult, type VolumeRecord } from './volumes.repository';
export {
  queueJobWebhooks,
  WebhooksRepository,
  type ClaimedWebhook,
  type JobWebhookRow,
  type WebhookAttemptResult,
  type WebhookState,
  type WebhookTarget,
  type WebhookTargetSpec,
} from './webhooks.repository';
export {
  JobRejectsRepository,
  MAX_STORED_REJECTS_PER_JOB,
  type RejectRecord,
  type RejectsPage,
} from './job-rejects.repository';
export { DRY_RUN_ERRORS_PER_FILE, DryRunRepository, type DryRunError } from './dry-run.repository';
export { ImportSchedulesRepository, type NewSchedule, type ScheduleRow } from './import-schedules.repository';
export {
  JOB_PHASES,
  JobPhasesRepository,
  type JobPhase,
  type JobPhaseRow,
  type PhaseEnd,
  type PhaseState,
  type PhaseWriter,
  type RunningIndexBuild,
} from './job-phases.repository';
export { GroupCommit } from './group-commit';
