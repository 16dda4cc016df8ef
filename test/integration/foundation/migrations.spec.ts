import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, migrate, pendingMigrations, readMigrations } from '@gw/db';
import { createScratchDatabase } from '@gw/testing';

describe('database migrations', () => {
  let db: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    db = await createScratchDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('applies once when four processes migrate at the same moment, and the rest find nothing to do', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate(db.url)));
    const total = readMigrations().length;
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 0, total]);
    const again = await migrate(db.url);
    expect(again).toEqual({ applied: [], alreadyApplied: total });
    const c = new Client({ connectionString: db.url });
    await c.connect();
    expect(await pendingMigrations(c)).toEqual([]);
    const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM "_prisma_migrations"');
    expect(Number(rows[0]!.n)).toBe(total);
    await c.end();
  });

  it('refuses to run when an applied migration was edited afterwards', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(`UPDATE "_prisma_migrations" SET checksum = 'x' WHERE migration_name = $1`, [
      readMigrations()[0]!.name,
    ]);
    await c.end();
    await expect(migrate(db.url)).rejects.toThrow(/was edited after it was applied/);
  });
});

describe('Prisma client against the migrated schema (drift check)', () => {
  // Every model is read with all its columns and written once: a column Prisma knows but the SQL
  // migrations lack (or a renamed table) fails here.
  it('reads and writes every model', async () => {
    const prisma = createPrismaClient(process.env.DATABASE_URL!);
    try {
      await prisma.$transaction(async (tx) => {
        const creds = await tx.importJobCredentials.create({
          data: { keyId: 'k1', iv: Buffer.alloc(12), ciphertext: Buffer.from('x'), authTag: Buffer.alloc(16) },
        });
        const job = await tx.importJob.create({
          data: {
            jobId: `job-drift${Date.now()}`,
            dbName: 'default',
            collectionName: 'drift',
            credentialsId: creds.id,
          },
        });
        await tx.importJobFile.create({
          data: { jobId: job.id, groupIndex: 0, urls: ['s3://b/k.json'], displayName: 's3://b/k.json', format: 'json' },
        });
        await tx.importJobEvent.create({ data: { jobId: job.id, toState: 'Pending' } });
        const counter = await tx.importCollectionCounter.findUnique({
          where: { dbName_collectionName: { dbName: 'default', collectionName: 'drift' } },
        });
        expect(counter?.activeJobs).toBe(1);
        await tx.gatewayDatabase.create({ data: { name: `drift_${Date.now()}` } });
        // Written by the migration itself: exactly one row, naming this installation.
        expect((await tx.gatewayInstallation.findMany()).map((r) => r.id)).toEqual([
          expect.stringMatching(/^[0-9a-f]{10}$/),
        ]);
        await tx.apiKey.create({
          data: { name: 'drift', keyPrefix: 'igw_x', keyHash: `h${Date.now()}`, scopes: ['admin'] },
        });
        await tx.volume.create({ data: { name: `drift_${Date.now()}`, backend: 'local', location: '/tmp/v' } });
        for (const model of [
          tx.importJob,
          tx.importJobFile,
          tx.importJobEvent,
          tx.importJobCredentials,
          tx.gatewayDatabase,
          tx.gatewayCollection,
          tx.gatewayPartition,
          tx.apiKey,
          tx.gatewayInstallation,
          tx.volume,
        ] as const) {
          await (model as unknown as { findFirst: () => Promise<unknown> }).findFirst();
        }
        throw new Rollback();
      });
    } catch (e) {
      if (!(e instanceof Rollback)) throw e;
    } finally {
      await prisma.$disconnect();
    }
  });
});

class Rollback extends Error {}
