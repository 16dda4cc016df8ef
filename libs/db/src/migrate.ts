import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

/**
 * Applies prisma/migrations/<name>/migration.sql in order and records them in Prisma's own
 * `_prisma_migrations` table, so Prisma Migrate on a machine with network accepts the database.
 * Prisma's schema engine cannot run offline here (docs/decisions/0002).
 */
export const MIGRATION_LOCK_KEY = 72707369; // the advisory lock key Prisma Migrate uses

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function findMigrationsDir(start = __dirname): string {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`prisma/migrations not found above ${start}`);
    dir = parent;
  }
}

export function readMigrations(dir = findMigrationsDir()): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" varchar(36) PRIMARY KEY NOT NULL,
  "checksum" varchar(64) NOT NULL,
  "finished_at" timestamptz,
  "migration_name" varchar(255) NOT NULL,
  "logs" text,
  "rolled_back_at" timestamptz,
  "started_at" timestamptz NOT NULL DEFAULT now(),
  "applied_steps_count" integer NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/** Safe when several processes start at once: one applies, the others wait and find nothing to do. */
export async function migrate(
  databaseUrl: string,
  opts: { dir?: string; log?: (msg: string) => void } = {},
): Promise<MigrateResult> {
  const files = readMigrations(opts.dir);
  const client = new Client({ connectionString: databaseUrl, application_name: 'igw-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(CREATE_TABLE);
      const done = await appliedMigrations(client);
      const applied: string[] = [];
      for (const f of files) {
        const prior = done.get(f.name);
        if (prior !== undefined) {
          if (prior !== f.checksum) {
            throw new MigrationError(
              `migration ${f.name} was edited after it was applied (checksum differs); add a new migration instead`,
            );
          }
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(f.sql);
          await client.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
             VALUES ($1, $2, now(), $3, 1)`,
            [randomUUID(), f.checksum, f.name],
          );
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK');
          throw new MigrationError(`migration ${f.name} failed: ${(e as Error).message}`);
        }
        applied.push(f.name);
        opts.log?.(`applied migration ${f.name}`);
      }
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function appliedMigrations(client: Pick<Client, 'query'>): Promise<Map<string, string>> {
  const { rows } = await client.query<{ migration_name: string; checksum: string }>(
    `SELECT migration_name, checksum FROM "_prisma_migrations"
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  return new Map(rows.map((r) => [r.migration_name, r.checksum]));
}

/** Names of migrations in the folder that the database has not applied (readiness check). */
export async function pendingMigrations(
  client: Pick<Client, 'query'>,
  files: readonly MigrationFile[] = readMigrations(),
): Promise<string[]> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
  if (exists.rows[0]?.t == null) return files.map((f) => f.name);
  const done = await appliedMigrations(client);
  return files.filter((f) => !done.has(f.name)).map((f) => f.name);
}
