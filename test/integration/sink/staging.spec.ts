import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsToBatch, type CollectionSchema } from '@gw/schema';
import {
  buildCopyLayout,
  copyBatches,
  groupColumn,
  publishSql,
  SinkErrorCode,
  stagingTableSql,
  toSinkError,
  type TableName,
} from '@gw/sink';
import { uniqueName } from '@gw/testing';
import { ARRAY_STORAGE, field, fromArray, pk, setupDb } from './helpers';

let env: Awaited<ReturnType<typeof setupDb>>;
beforeAll(async () => {
  env = await setupDb();
});
afterAll(async () => {
  await env.pool.query(`DROP SCHEMA "${env.schema}" CASCADE`);
  await env.pool.end();
});

const SCHEMA: CollectionSchema = {
  enableDynamicField: true,
  fields: [
    pk(),
    field('title', 'VarChar', { maxLength: 8, nullable: true }),
    field('tags', 'Array', { elementType: 'Int64', maxCapacity: 4 }),
    field('v', 'FloatVector', { dim: 3 }),
    field('bv', 'BinaryVector', { dim: 8 }),
    field('h', 'Float16Vector', { dim: 1 }),
  ],
};

const layoutFor = (group: number) =>
  buildCopyLayout({
    fields: SCHEMA.fields,
    storage: ARRAY_STORAGE,
    dynamicField: true,
    extra: [{ name: '$partition', type: 'text', value: 'p' }, groupColumn(group)],
  });

const rows = (ids: number[]) =>
  rowsToBatch(
    SCHEMA,
    ids.map((id) => ({ id, title: `t${id}`, tags: [id], v: [id, 0, 1], bv: [id], h: [1], k: id })),
  );

describe('staging tables', () => {
  it('creates a staging table with the copied columns, their types and "$group", without constraints', async () => {
    const staging: TableName = { schema: env.schema, name: uniqueName('stg') };
    await env.pool.query(stagingTableSql(staging.schema, staging.name, layoutFor(1)));
    const { rows: cols } = await env.pool.query<{ name: string; type: string; notnull: boolean }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull
         FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum`,
      [`"${staging.schema}"."${staging.name}"`],
    );
    expect(cols).toEqual([
      { name: 'id', type: 'bigint', notnull: false },
      { name: 'title', type: 'text', notnull: false },
      { name: 'tags', type: 'bigint[]', notnull: false },
      { name: 'v', type: 'real[]', notnull: false },
      { name: 'bv', type: 'bit(8)', notnull: false },
      { name: 'h', type: 'bytea', notnull: false },
      { name: '$meta', type: 'jsonb', notnull: false },
      { name: '$partition', type: 'text', notnull: false },
      { name: '$group', type: 'integer', notnull: true },
    ]);
    const { rows: cons } = await env.pool.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass`, [
      `"${staging.schema}"."${staging.name}"`,
    ]);
    expect(cons).toEqual([]);
  });

  it('COPYs file groups into staging, then publishes them with one INSERT … SELECT', async () => {
    const target = await env.createCollection(SCHEMA);
    const staging: TableName = { schema: env.schema, name: uniqueName('stg') };
    await env.pool.query(stagingTableSql(staging.schema, staging.name, layoutFor(1), { unlogged: true }));
    const c = await env.pool.connect();
    try {
      await c.query('BEGIN');
      await copyBatches(c, staging, layoutFor(1), fromArray([rows([1, 2])]));
      await copyBatches(c, staging, layoutFor(1).withExtraValues(['p', 2]), fromArray([rows([3])]));
      await c.query('COMMIT');
      const groups = await c.query<{ g: number; n: string }>(
        `SELECT "$group" AS g, count(*)::text AS n FROM "${staging.schema}"."${staging.name}" GROUP BY 1 ORDER BY 1`,
      );
      expect(groups.rows).toEqual([
        { g: 1, n: '2' },
        { g: 2, n: '1' },
      ]);
      await c.query('BEGIN');
      await c.query(publishSql(target, staging, layoutFor(0)));
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const { rows: out } = await env.pool.query(
      `SELECT id::text, title, tags::text[] AS tags, v, bv::text AS bv, h, "$meta" AS meta, "$partition" AS p
         FROM "${target.schema}"."${target.name}" ORDER BY id`,
    );
    expect(out).toEqual(
      [1, 2, 3].map((id) => ({
        id: String(id),
        title: `t${id}`,
        tags: [String(id)],
        v: [id, 0, 1],
        bv: id.toString(2).padStart(8, '0'),
        h: Buffer.from([0x00, 0x3c]),
        meta: { k: id },
        p: 'p',
      })),
    );
  });

  it('a duplicate key across file groups fails the publish, mapped to a SinkError naming the key', async () => {
    const target = await env.createCollection(SCHEMA);
    const staging: TableName = { schema: env.schema, name: uniqueName('stg') };
    await env.pool.query(stagingTableSql(staging.schema, staging.name, layoutFor(1)));
    const c = await env.pool.connect();
    try {
      await c.query('BEGIN');
      await copyBatches(c, staging, layoutFor(1), fromArray([rows([1, 7])]));
      await copyBatches(c, staging, layoutFor(2), fromArray([rows([7])]));
      const err = await c.query(publishSql(target, staging, layoutFor(0))).catch((e: unknown) => e);
      await c.query('ROLLBACK');
      const mapped = toSinkError(err, { layout: layoutFor(0) });
      expect(mapped).toMatchObject({ code: SinkErrorCode.DuplicateKey, retryable: false });
      expect(mapped.message).toBe('duplicate primary key: id=7');
    } finally {
      c.release();
    }
    expect(await env.count(target)).toBe(0);
  });

  it('refuses an extra column that would shadow a field', () => {
    expect(() =>
      buildCopyLayout({
        fields: SCHEMA.fields,
        storage: ARRAY_STORAGE,
        dynamicField: false,
        extra: [{ name: 'title', type: 'text', value: 'x' }],
      }),
    ).toThrow(/title appears twice/);
  });
});
