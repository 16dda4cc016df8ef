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
