import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildVectorIndexes,
  type CollectionDef,
  createCollectionTable,
  parseCreateCollection,
  planVectorIndexes,
  type SqlRunner,
  vectorIndexPgName,
} from '@gw/collections';

/*
 * Index builds after load (issue 16 point 8) against PGlite, which ships pgvector (this machine's
 * PostgreSQL does not): the Milvus index parameters mapped onto HNSW / IVFFlat, an index already
 * built left alone, an INVALID one rebuilt, and what cannot be built reported with its reason.
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
  await q.query('CREATE EXTENSION vector');
  await q.query('CREATE SCHEMA "milvus_default"');
}, 60_000);
afterAll(async () => {
  await pgl.close();
});

function collection(name: string, indexParams: unknown[], storage: CollectionDef['storage']): CollectionDef {
  const spec = parseCreateCollection({
    collectionName: name,
    schema: {
      fields: [
        { fieldName: 'id', dataType: 'Int64', isPrimary: true },
        { fieldName: 'fv', dataType: 'FloatVector', elementTypeParams: { dim: 3 } },
        { fieldName: 'hv', dataType: 'Float16Vector', elementTypeParams: { dim: 2 } },
        { fieldName: 'big', dataType: 'FloatVector', elementTypeParams: { dim: 2001 } },
        { fieldName: 'n', dataType: 'Int32' },
      ],
    },
    indexParams,
  });
  return { ...spec, id: 1, db: 'default', storage };
}

const indexDefs = async (table: string): Promise<Record<string, string>> => {
  const r = await q.query(
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'milvus_default' AND tablename = $1`,
    [table],
  );
  return Object.fromEntries(r.rows.map((x) => [String(x.indexname), String(x.indexdef)]));
};

describe('vector indexes after load (PGlite with pgvector)', () => {
  it('maps HNSW and IVF_FLAT onto pgvector, builds once, and rebuilds an INVALID index', async () => {
    const def = collection(
      'vi1',
      [
        {
          fieldName: 'fv',
          indexName: 'fv_hnsw',
          metricType: 'COSINE',
          indexType: 'HNSW',
          params: { M: 8, efConstruction: '32' },
        },
        { fieldName: 'hv', indexName: 'hv_ivf', metricType: 'L2', indexType: 'IVF_FLAT', params: { nlist: 4 } },
        { fieldName: 'n', indexName: 'n_sort', metricType: '', indexType: 'STL_SORT' },
      ],
      { vectorType: 'pgvector', halfvec: true },
    );
    await createCollectionTable(q, 'default', 'vi1', def.schema, def.storage);
    await q.query(
      `INSERT INTO "milvus_default"."vi1" (id, fv, hv, big, n, "$partition")
       SELECT i, ARRAY[i, i + 1, i + 2]::real[]::vector, ARRAY[i, 1]::real[]::halfvec, array_fill(0.5::real, ARRAY[2001])::vector, i, '_default'
         FROM generate_series(1, 200) i`,
    );
    const first = await buildVectorIndexes(q, def, { concurrently: false });
    // The scalar index is not ours to build; both vector ones are.
    expect(first.map((r) => [r.indexName, r.state])).toEqual([
      ['fv_hnsw', 'Built'],
      ['hv_ivf', 'Built'],
    ]);
    const defs = await indexDefs('vi1');
    expect(defs[vectorIndexPgName('vi1', 'fv_hnsw')]).toMatch(
      /USING hnsw \(fv vector_cosine_ops\) WITH \(m='8', ef_construction='32'\)/,
    );
    expect(defs[vectorIndexPgName('vi1', 'hv_ivf')]).toMatch(/USING ivfflat \(hv halfvec_l2_ops\) WITH \(lists='4'\)/);

    const again = await buildVectorIndexes(q, def, { concurrently: false });
    expect(again.map((r) => r.state)).toEqual(['Present', 'Present']);

    // An interrupted CREATE INDEX CONCURRENTLY leaves the index INVALID: the next load rebuilds it.
    await q.query(
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"milvus_default"."${vectorIndexPgName('vi1', 'fv_hnsw')}"'::regclass`,
    );
    const rebuilt = await buildVectorIndexes(q, def, { concurrently: false });
    expect(rebuilt.map((r) => r.state)).toEqual(['Built', 'Present']);
    const valid = await q.query(
      `SELECT indisvalid AS v FROM pg_index WHERE indexrelid = '"milvus_default"."${vectorIndexPgName('vi1', 'fv_hnsw')}"'::regclass`,
    );
    expect(valid.rows[0]?.v).toBe(true);
    // The index answers a nearest-neighbour query.
    const nn = await q.query(`SELECT id FROM "milvus_default"."vi1" ORDER BY fv <=> '[10,11,12]' LIMIT 1`);
    expect(nn.rows.length).toBe(1);
  });

  it('reports what cannot be built, with the reason, and builds nothing for it', async () => {
    const skipped = collection(
      'vi2',
      [
        { fieldName: 'fv', indexName: 'a', metricType: 'L2', indexType: 'DISKANN' },
        { fieldName: 'big', indexName: 'b', metricType: 'L2', indexType: 'HNSW' },
        { fieldName: 'hv', indexName: 'c', metricType: 'IP', indexType: 'HNSW', params: { M: 500 } },
      ],
      { vectorType: 'pgvector', halfvec: true },
    );
    await createCollectionTable(q, 'default', 'vi2', skipped.schema, skipped.storage);
    const results = await buildVectorIndexes(q, skipped, { concurrently: false });
    expect(results.map((r) => [r.indexName, r.state])).toEqual([
      ['a', 'Skipped'],
      ['b', 'Skipped'],
      ['c', 'Skipped'],
    ]);
    expect(results[0]!.message).toMatch(/DISKANN has no pgvector counterpart/);
    expect(results[1]!.message).toMatch(/dim 2001 exceeds pgvector's index limit of 2000/);
    expect(results[2]!.message).toMatch(/M must be an integer from 2 to 100, got 500/);
    expect(Object.keys(await indexDefs('vi2')).filter((n) => n.startsWith('vi2__'))).toEqual([]);

    const arrays = collection('vi3', [{ fieldName: 'fv', indexName: 'a', metricType: 'L2', indexType: 'HNSW' }], {
      vectorType: 'array',
      halfvec: false,
    });
    expect(planVectorIndexes(arrays)).toEqual([
      expect.objectContaining({ kind: 'skip', reason: expect.stringMatching(/real\[\]/) as unknown }),
    ]);
    const long = vectorIndexPgName('c'.repeat(60), 'i'.repeat(60));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).not.toBe(vectorIndexPgName('c'.repeat(60), `${'i'.repeat(59)}j`));
  });
});
