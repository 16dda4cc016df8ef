import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCollection,
  describeCollection,
  dropCollection,
  getCollection,
  getCollectionStats,
  insertEntities,
  type CollectionsContext,
} from '@gw/collections';
import { createScratchDatabase } from '@gw/testing';
import { migrate } from '../../../libs/db/src/migrate';
import { batchOf } from './helpers';

/*
 * TARGET_DATABASE_URL apart from DATABASE_URL: DDL and catalog rows cannot share a transaction, so
 * the table is created first and removed again when the catalog write fails.
 */

let catalogDb: Awaited<ReturnType<typeof createScratchDatabase>>;
let targetDb: Awaited<ReturnType<typeof createScratchDatabase>>;
let catalog: pg.Pool;
let target: pg.Pool;
let ctx: CollectionsContext;

beforeAll(async () => {
  [catalogDb, targetDb] = await Promise.all([createScratchDatabase(), createScratchDatabase()]);
  await migrate(catalogDb.url);
  catalog = new pg.Pool({ connectionString: catalogDb.url, max: 2 });
  target = new pg.Pool({ connectionString: targetDb.url, max: 2 });
  // Makes the catalog write of one collection fail, after its table was created in the target.
  await catalog.query(`
    CREATE FUNCTION refuse_fail_me() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.name = 'fail_me' THEN RAISE EXCEPTION 'catalog refuses'; END IF; RETURN NEW; END $$;
    CREATE TRIGGER refuse_fail_me BEFORE INSERT ON gateway_collections FOR EACH ROW EXECUTE FUNCTION refuse_fail_me();`);
  ctx = { catalog, target, config: { pgvector: 'auto' } };
}, 120_000);

afterAll(async () => {
  await catalog.end();
  await target.end();
  await Promise.all([catalogDb.drop(), targetDb.drop()]);
});

const tableExists = async (name: string): Promise<boolean> => {
  const r = await target.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [`"milvus_default"."${name}"`]);
  return r.rows[0]?.r !== null;
};

describe('catalog and target in different databases', () => {
  it('keeps rows in the target and the schema in the catalog', async () => {
    await createCollection(ctx, 'default', { collectionName: 'apart', dimension: 2 });
    expect(await tableExists('apart')).toBe(true);
    const inCatalogDb = await catalog.query(`SELECT to_regclass('"milvus_default"."apart"') AS r`);
    expect(inCatalogDb.rows[0]).toEqual({ r: null });
    expect((await describeCollection(ctx, 'default', { collectionName: 'apart' })).collectionName).toBe('apart');
    const def = await getCollection(ctx, 'default', 'apart');
    await insertEntities(ctx, 'default', {
      collectionName: 'apart',
      rows: batchOf(def.schema, [{ id: 1n, vector: [1, 2] }]),
    });
    expect(await getCollectionStats(ctx, 'default', { collectionName: 'apart' })).toEqual({ rowCount: 1 });
    await dropCollection(ctx, 'default', { collectionName: 'apart' });
    expect(await tableExists('apart')).toBe(false);
  });

  it('removes the new table when the catalog write fails, leaving no half-created collection', async () => {
    await expect(createCollection(ctx, 'default', { collectionName: 'fail_me', dimension: 2 })).rejects.toThrow(
      'catalog refuses',
    );
    expect(await tableExists('fail_me')).toBe(false);
    const r = await catalog.query(`SELECT 1 FROM gateway_collections WHERE name = 'fail_me'`);
    expect(r.rowCount).toBe(0);
  });
});

describe('concurrent creates of one collection (catalog and target apart)', () => {
  it('serialises 24 parallel identical creates: all succeed, one table, one catalog row; a different schema gets 1100', async () => {
    // Pools wide enough that every create really runs at once.
    const wideCatalog = new pg.Pool({ connectionString: catalogDb.url, max: 26 });
    const wideTarget = new pg.Pool({ connectionString: targetDb.url, max: 26 });
    const wide: CollectionsContext = { catalog: wideCatalog, target: wideTarget, config: { pgvector: 'auto' } };
    try {
      for (const name of ['crowd_a', 'crowd_b', 'crowd_c']) {
        const same = { collectionName: name, dimension: 3 };
        const results = await Promise.allSettled([
          ...Array.from({ length: 24 }, () => createCollection(wide, 'default', same)),
          createCollection(wide, 'default', { collectionName: name, dimension: 5 }),
        ]);
        const rejected = results.filter((r) => r.status === 'rejected');
        const messages = rejected.map((r) => String(r.reason));
        // The odd one out either lost (1100, different schema) or won (then all 24 lose with 1100).
        expect(rejected.length === 1 || rejected.length === 24, messages.join('\n')).toBe(true);
        for (const m of messages) expect(m).toContain('collection already exists with a different schema');
        const rows = await catalog.query(`SELECT count(*)::int AS n FROM gateway_collections WHERE name = $1`, [name]);
        expect(rows.rows[0]).toEqual({ n: 1 });
        expect(await tableExists(name)).toBe(true);
      }
    } finally {
      await wideCatalog.end();
      await wideTarget.end();
    }
  }, 120_000);
});
