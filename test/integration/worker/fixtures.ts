import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** Row i of the e2e data: values exact in float32 and printed identically by JS and PostgreSQL. */
export function vectorOf(i: number): number[] {
  return [i, i + 0.5, -i, 0.25];
}

/** md5 of `id:{v1,v2,v3,v4}` lines in id order — what the collection table must hold. */
export function expectedDigestInput(ids: readonly number[]): string {
  return [...ids]
    .sort((a, b) => a - b)
    .map((i) => `${i}:{${vectorOf(i).join(',')}}`)
    .join(',');
}

export const DIGEST_SQL = (table: string) =>
  `SELECT count(*)::int AS n, coalesce(string_agg(id || ':' || vector::text, ',' ORDER BY id), '') AS text FROM ${table}`;

export function jsonl(ids: readonly number[]): Buffer {
  return Buffer.from(ids.map((i) => JSON.stringify({ id: i, vector: vectorOf(i), tag: `t${i}` })).join('\n') + '\n');
}

export function json(ids: readonly number[]): Buffer {
  return Buffer.from(JSON.stringify({ rows: ids.map((i) => ({ id: i, vector: vectorOf(i) })) }));
}

export function csv(ids: readonly number[]): Buffer {
  return Buffer.from(['id,vector', ...ids.map((i) => `${i},"${JSON.stringify(vectorOf(i))}"`)].join('\n') + '\n');
}

/** Parquet written by DuckDB (a real writer), zstd, several row groups. */
export async function parquet(ids: readonly number[]): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'igw-pq-'));
  const file = join(dir, 'data.parquet');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const lo = Math.min(...ids);
  const hi = Math.max(...ids);
  await con.run(
    `COPY (SELECT i::BIGINT AS id, [i::FLOAT, (i + 0.5)::FLOAT, (-i)::FLOAT, 0.25::FLOAT] AS vector
             FROM range(${lo}, ${hi + 1}) t(i))
       TO '${file}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 300)`,
  );
  con.closeSync();
  return readFileSync(file);
}

/** `id.npy` (int64) and `vector.npy` (float32, n×4) written by numpy. */
export function numpy(ids: readonly number[]): { id: Buffer; vector: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'igw-npy-'));
  writeFileSync(join(dir, 'ids.json'), JSON.stringify(ids));
  execFileSync('python3', [
    '-c',
    `import json, numpy as np, sys
d = sys.argv[1]
ids = np.array(json.load(open(d + '/ids.json')), dtype='<i8')
np.save(d + '/id.npy', ids)
np.save(d + '/vector.npy', np.stack([ids, ids + 0.5, -ids, np.full(len(ids), 0.25)], axis=1).astype('<f4'))`,
    dir,
  ]);
  return { id: readFileSync(join(dir, 'id.npy')), vector: readFileSync(join(dir, 'vector.npy')) };
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, k) => from + k);
}
