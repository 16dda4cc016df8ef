export { createPool, DbModule, JOB_DB_POOL, TARGET_DB_POOL } from './db.module';
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
  ACTIVE_STATES,
  finishJob,
  ImportJobsRepository,
  inTransaction,
  TERMINAL_STATES,
  type AdmitResult,
  type FileState,
  type JobFileRow,
  type JobRow,
  type JobState,
  type ListFilter,
  type NewJob,
  type NewJobFile,
} from './import-jobs.repository';
export {
  ApiKeysRepository,
  generateApiKey,
  grants,
  hashApiKey,
  SCOPES,
  type ApiKeyRecord,
  type Scope,
} from './api-keys.repository';
