import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollectionTable, pgSchemaName, type SqlRunner, type VectorStorage } from '@gw/collections';
import { rowsToBatch, type CollectionSchema } from '@gw/schema';
import { buildCopyLayout, copySql, encodeBinaryCopy } from '@gw/sink';
import { field, pk } from './helpers';

/*
 * This machine's PostgreSQL has no pgvector. PGlite (PostgreSQL in WASM, with the extension) has
 * no COPY FROM STDIN stream, but runs `COPY … FROM '/dev/blob'` on a Blob: the very bytes
 * copyBatches streams (encodeBinaryCopy builds them), so the vector/halfvec encoders meet the
 * real vector_recv/halfvec_recv here.
 */
let pgl: PGlite;
let q: SqlRunner;
beforeAll(async () => {
  pgl = new PGlite({ extensions: { vector } });
  q = {
    query: async (text, params) => {
      const r = await pgl.query<Record<string, unknown>>(text, params === undefined ? [] : [...params]);
      return { rows: r.rows };
    },
  };
  await pgl.exec(`CREATE EXTENSION vector; CREATE SCHEMA "${pgSchemaName('pgv')}"`);
}, 60_000);
afterAll(async () => {
  await pgl.close();
});

const PGVECTOR: VectorStorage = { vectorType: 'pgvector', halfvec: true };

describe('pgvector columns (PGlite, binary COPY from a blob)', () => {
  it('loads vector(dim) and halfvec(dim) values that read back exactly', async () => {
    const schema: CollectionSchema = {
      enableDynamicField: true,
      fields: [
        pk(),
        field('v', 'FloatVector', { dim: 3 }),
        field('h', 'Float16Vector', { dim: 3 }),
        field('b', 'BinaryVector', { dim: 8 }),
      ],
    };
    await createCollectionTable(q, 'pgv', 'vecs', schema, PGVECTOR);
    const layout = buildCopyLayout({
      fields: schema.fields,
      storage: PGVECTOR,
      dynamicField: true,
      extra: [{ name: '$partition', type: 'text', value: 'p' }],
    });
    const batch = rowsToBatch(schema, [
      { id: 1, v: [0.1, -2.5, 3.4028234663852886e38], h: [1, -2, 0.333251953125], b: [0xa5], x: 1 },
      { id: 2, v: [0, -0, 1e-45], h: [65_504, -0, 6.103515625e-5], b: [0] },
    ]);
    const blob = new Blob([encodeBinaryCopy(layout, [batch])]);
    const sql = copySql({ schema: pgSchemaName('pgv'), name: 'vecs' }, layout).replace(
      'FROM STDIN',
      "FROM '/dev/blob'",
    );
    await pgl.query(sql, [], { blob });
    const { rows } = await pgl.query<Record<string, unknown>>(
      `SELECT id::text, v::text, h::text, b::text, "$meta"::text AS meta, "$partition" AS p
         FROM "${pgSchemaName('pgv')}".vecs ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: '1', v: '[0.1,-2.5,3.4028235e+38]', h: '[1,-2,0.33325195]', b: '10100101', meta: '{"x": 1}', p: 'p' },
      { id: '2', v: '[0,-0,1e-45]', h: '[65504,-0,6.1035156e-05]', b: '00000000', meta: '{}', p: 'p' },
    ]);
  });
});
