import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * `npm run bench`: every benchmark at a size that finishes in minutes on the 2-core machine, each
 * in its own process, printing its ratio lines against a baseline measured in the same run.
 * Larger runs: see bench/RESULTS.md for each script's arguments.
 */
const benches: { name: string; file: string; args: string[]; env?: Record<string, string> }[] = [
  {
    name: 'sink: binary COPY vs multi-row INSERT',
    file: 'sink-copy.js',
    args: [],
    env: { BENCH_ROWS: '200000', BENCH_INSERT_ROWS: '20000' },
  },
  {
    name: 'formats: readers vs baselines, peak RSS',
    file: 'formats-rss.js',
    args: ['100', 'jsonl,json,csv,numpy,parquet', '122880'], // DuckDB's default row groups: one 122,880-row page per chunk
  },
  { name: 'storage: resilient read path vs bare clients', file: 'storage-read.js', args: [] },
  {
    name: 'jobs: staging pipeline (stageGroup) vs raw binary COPY',
    file: 'stage-pipeline.js',
    args: [],
    env: { BENCH_ROWS: '200000' },
  },
  {
    name: 'end to end import (issue 12): API + worker processes vs binary COPY',
    file: 'import-e2e.js',
    args: [],
    env: { BENCH_E2E_ROWS: '200000' },
  },
  {
    name: 'volumes (issue 17): 1 GiB upload through the API vs a direct disk write; import from a volume vs S3',
    file: 'volumes.js',
    args: [],
  },
  { name: 'build once (issue 17.6): an up-to-date prebuild vs a full build', file: 'build-once.js', args: [] },
  {
    name: 'API at scale (issue 14): creates (previous vs grouped admission), list/describe with many jobs',
    file: 'api-scale.js',
    args: ['all'],
    env: { BENCH_CREATE_REQUESTS: '3000', BENCH_LIST_JOBS: '100000', BENCH_LIST_REQUESTS: '100' },
  },
];

let failed = 0;
for (const b of benches) {
  console.log(`\n== ${b.name}`);
  const r = spawnSync(process.execPath, [join(__dirname, b.file), ...b.args], {
    stdio: 'inherit',
    env: { ...process.env, ...(b.env ?? {}) },
  });
  if (r.status !== 0) {
    failed++;
    console.log(`(${b.file} exited with ${r.status ?? r.signal})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
