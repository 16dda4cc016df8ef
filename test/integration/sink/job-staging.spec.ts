import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CollectionSchema, type RowBatch, rowsToBatch } from '@gw/schema';
import {
  copyingBatches,
  fenceEndingOf,
  JobStaging,
  type JobStagingSpec,
  SinkError,
  SinkErrorCode,
  STAGING_SCHEMA,
} from '@gw/sink';
import { createScratchDatabase, uniqueName } from '@gw/testing';
import { Pool } from 'pg';
import { ARRAY_STORAGE, field, fromArray, pk, setupDb } from './helpers';

let env: Awaited<ReturnType<typeof setupDb>>;
let staging: JobStaging;
beforeAll(async () => {
  env = await setupDb();
  staging = new JobStaging(env.pool);
});
afterAll(async () => {
  await env.pool.query(`DROP SCHEMA "${env.schema}" CASCADE`);
  await env.pool.end();
});

const SCHEMA: CollectionSchema = {
  enableDynamicField: false,
  fields: [pk(), field('v', 'FloatVector', { dim: 2 })],
};

const batch = (ids: number[]): RowBatch =>
  rowsToBatch(
    SCHEMA,
    ids.map((id) => ({ id, v: [id, 0.5] })),
  );
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);

async function newJob(): Promise<(token: bigint) => JobStagingSpec> {
  const target = await env.createCollection(SCHEMA);
  const name = uniqueName('j_test');
  return (token) => ({
    table: { schema: STAGING_SCHEMA, name },
    target,
    layout: { fields: SCHEMA.fields, storage: ARRAY_STORAGE, dynamicField: false },
    partition: '_default',
    jobId: `job-${name}`,
    token,
  });
}

const never = new AbortController().signal;

async function expectSinkError(p: Promise<unknown>, code: SinkErrorCode): Promise<SinkError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(SinkError);
  expect((e as SinkError).code).toBe(code);
  return e as SinkError;
}

describe('job staging with fencing tokens', () => {
  it('refuses a run whose token is older than the fence, at begin', async () => {
    const spec = await newJob();
    await staging.begin(spec(2n));
    const e = await expectSinkError(staging.begin(spec(1n)), SinkErrorCode.FenceLost);
    expect(e.message).toMatch(/^run 1 of job-\S+ lost its fence: run 2 took the job over$/);
  });

  it('a run that was overtaken mid-COPY cannot commit its group; the newer run stages and publishes it exactly once', async () => {
    const spec = await newJob();
    const target = spec(1n).target;
    await staging.begin(spec(1n));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstBatchIn!: () => void;
    const midCopy = new Promise<void>((r) => (firstBatchIn = r));
    async function* stalled(): AsyncGenerator<RowBatch> {
      yield batch(range(1, 500));
      firstBatchIn();
      await gate; // the old run is paused here, its COPY open
      yield batch(range(501, 500));
    }
    const old = staging.stageGroup(spec(1n), 0, copyingBatches(stalled(), never), never);
    await midCopy;
    // The newer run takes the fence while the old COPY is open: no lock is held during a COPY.
    const begun = await staging.begin(spec(2n));
    expect(begun.staged.size).toBe(0);
    expect(
      await staging.stageGroup(spec(2n), 0, copyingBatches(fromArray([batch(range(1, 1000))]), never), never),
    ).toBe(1000);
    release();
    const e = await expectSinkError(old, SinkErrorCode.FenceLost);
    expect(e.message).toContain('run 2 took the job over');
    await expectSinkError(
      staging.inPublishTransaction(spec(1n), [0], async (_c, publish) => (await publish()).rows),
      SinkErrorCode.FenceLost,
    );
    expect(await staging.inPublishTransaction(spec(2n), [0], async (_c, publish) => (await publish()).rows)).toBe(1000);
    expect(await env.count(target)).toBe(1000);
    // A retry of the publish (the run died before recording the job Completed) publishes nothing again.
    expect(await staging.inPublishTransaction(spec(2n), [0], async (_c, publish) => (await publish()).rows)).toBe(1000);
    expect(await env.count(target)).toBe(1000);
  });

  it('records each group once: a second commit of the same group fails instead of staging it twice', async () => {
    const spec = (await newJob())(1n);
    await staging.begin(spec);
    await staging.stageGroup(spec, 3, copyingBatches(fromArray([batch([1, 2])]), never), never);
    const e = await expectSinkError(
      staging.stageGroup(spec, 3, copyingBatches(fromArray([batch([1, 2])]), never), never),
      SinkErrorCode.FenceLost,
    );
    expect(e.message).toContain('group 3 was staged by another run');
    const again = await staging.begin(spec);
    expect([...again.staged]).toEqual([[3, 2]]);
  });

  it('publish checks staged rows per group against the recorded counts, removes a group that differs and asks for a retry', async () => {
    const spec = (await newJob())(1n);
    await staging.begin(spec);
    await staging.stageGroup(spec, 0, copyingBatches(fromArray([batch([1, 2, 3])]), never), never);
    await staging.stageGroup(spec, 1, copyingBatches(fromArray([batch([4, 5])]), never), never);
    // Rows of group 1 written behind the gateway's back (as a second, unfenced copy would).
    await env.pool.query(
      `INSERT INTO "${STAGING_SCHEMA}"."${spec.table.name}" SELECT * FROM "${STAGING_SCHEMA}"."${spec.table.name}" WHERE "$group" = 1`,
    );
    const e = await expectSinkError(
      staging.inPublishTransaction(spec, [0, 1], async (_c, publish) => (await publish()).rows),
      SinkErrorCode.StagedCountMismatch,
    );
    expect(e.message).toBe(
      'staged rows differ from the recorded counts (group 1: 4 rows staged, 2 recorded); those groups will be staged again',
    );
    expect(e.retryable).toBe(true);
    expect(await env.count(spec.target)).toBe(0);
    const after = await staging.begin(spec);
    expect([...after.staged]).toEqual([[0, 3]]);
    await staging.stageGroup(spec, 1, copyingBatches(fromArray([batch([4, 5])]), never), never);
    expect(await staging.inPublishTransaction(spec, [0, 1], async (_c, publish) => (await publish()).rows)).toBe(5);
  });

  it('a group expected by the plan but never recorded stops the publish', async () => {
    const spec = (await newJob())(1n);
    await staging.begin(spec);
    await staging.stageGroup(spec, 0, copyingBatches(fromArray([batch([1])]), never), never);
    const e = await expectSinkError(
      staging.inPublishTransaction(spec, [0, 1], async (_c, publish) => (await publish()).rows),
      SinkErrorCode.StagedCountMismatch,
    );
    expect(e.message).toContain('group 1: 0 rows staged, none recorded');
    expect(await env.count(spec.target)).toBe(0);
  });

  it('drop removes the table and its bookkeeping; listTables finds tables by installation prefix', async () => {
    const make = await newJob();
    const spec = make(1n);
    await staging.begin(spec);
    expect(await staging.listTables('test')).toContain(spec.table.name);
    await staging.drop(spec.table.name);
    expect(await staging.listTables('test')).not.toContain(spec.table.name);
    const r = await env.pool.query(`SELECT to_regclass($1) AS t`, [`"${STAGING_SCHEMA}"."${spec.table.name}"`]);
    expect(r.rows[0].t).toBeNull();
  });

  it('a closed fence stops every run at begin, stage and publish, naming the ending; a closed table is forgotten after the keep time', async () => {
    const spec = (await newJob())(1n);
    await staging.begin(spec);
    await staging.stageGroup(spec, 0, copyingBatches(fromArray([batch([1, 2])]), never), never);
    expect(
      await staging.close(spec.table.name, spec.jobId, { state: 'Cancelled', reason: 'cancelled by request' }),
    ).toBe(null);
    // Thunks, one at a time: an attempt made before the previous one is awaited would reject unobserved.
    for (const attempt of [
      () => staging.stageGroup(spec, 1, copyingBatches(fromArray([batch([3])]), never), never),
      () => staging.inPublishTransaction(spec, [0], async (_c, publish) => (await publish()).rows),
      () => staging.begin({ ...spec, token: 2n }),
    ]) {
      const e = await expectSinkError(attempt(), SinkErrorCode.FenceClosed);
      expect(fenceEndingOf(e)).toEqual({ state: 'Cancelled', reason: 'cancelled by request' });
    }
    expect(await env.count(spec.target)).toBe(0);
    // The first ending recorded stays; dropping keeps the closed row until it is old enough.
    await staging.close(spec.table.name, spec.jobId, { state: 'Failed', reason: 'later' });
    await staging.drop(spec.table.name);
    expect(await staging.forgetClosed('test')).toBe(0);
    await expectSinkError(staging.begin({ ...spec, token: 3n }), SinkErrorCode.FenceClosed);
    expect(await staging.forgetClosed('test', 0)).toBeGreaterThanOrEqual(1);
  });

  it('close waits for a publish in flight and answers its rows; a later run still completes from them', async () => {
    const spec = (await newJob())(1n);
    await staging.begin(spec);
    await staging.stageGroup(spec, 0, copyingBatches(fromArray([batch([1, 2, 3])]), never), never);
    let commit!: () => void;
    const held = new Promise<void>((r) => (commit = r));
    let published!: () => void;
    const inFlight = new Promise<void>((r) => (published = r));
    const publishing = staging.inPublishTransaction(spec, [0], async (_c, publish) => {
      const n = await publish();
      published();
      await held; // the publish transaction is open, its fence row locked
      return n.rows;
    });
    await inFlight;
    let closedWith: number | null | undefined;
    const closing = staging
      .close(spec.table.name, spec.jobId, { state: 'Failed', reason: 'import timeout of 1s exceeded' })
      .then((n) => (closedWith = n));
    await new Promise((r) => setTimeout(r, 200));
    expect(closedWith).toBeUndefined(); // waits for the publish to commit or roll back
    commit();
    expect(await publishing).toBe(3);
    await closing;
    expect(closedWith).toBe(3);
    // Published first: a newer run is not stopped by the closed fence, it finds the rows published.
    const again = await staging.begin({ ...spec, token: 2n });
    expect(again.publishedRows).toBe(3);
    expect(await env.count(spec.target)).toBe(3);
  });

  it('adds the closed-fence columns to a fence table that predates them, once per pool', async () => {
    const db = await createScratchDatabase();
    const pool = new Pool({ connectionString: db.url, max: 2 });
    try {
      await pool.query(`CREATE SCHEMA ${STAGING_SCHEMA}`);
      await pool.query(
        `CREATE TABLE ${STAGING_SCHEMA}.job_runs (staging_table text PRIMARY KEY, job_id text NOT NULL,
           token bigint NOT NULL, published_rows bigint, published_at timestamptz,
           created_at timestamptz NOT NULL DEFAULT now())`,
      );
      await Promise.all([new JobStaging(pool).ensureSchema(), new JobStaging(pool).ensureSchema()]);
      const cols = await pool.query<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = $1 AND table_name = 'job_runs' AND column_name LIKE 'closed%' ORDER BY 1`,
        [STAGING_SCHEMA],
      );
      expect(cols.rows.map((r) => r.name)).toEqual(['closed_at', 'closed_reason', 'closed_state']);
      expect(await new JobStaging(pool).close('j_x_1', 'job-1', { state: 'Cancelled', reason: 'r' })).toBeNull();
    } finally {
      await pool.end();
      await db.drop();
    }
  });

  it('stages into an UNLOGGED table, and a resumed run forgets groups whose rows a server crash emptied', async () => {
    const spec = (await newJob())(1n);
    await staging.begin(spec);
    const kind = await env.pool.query(`SELECT relpersistence AS p FROM pg_class WHERE oid = $1::regclass`, [
      `"${STAGING_SCHEMA}"."${spec.table.name}"`,
    ]);
    expect(kind.rows[0].p).toBe('u');
    await staging.stageGroup(spec, 0, copyingBatches(fromArray([batch([1, 2])]), never), never);
    await staging.stageGroup(spec, 1, copyingBatches(fromArray([batch([3])]), never), never);
    // What crash recovery does to an unlogged table: it comes back empty.
    await env.pool.query(`TRUNCATE "${STAGING_SCHEMA}"."${spec.table.name}"`);
    await env.pool.query(
      `INSERT INTO "${STAGING_SCHEMA}"."${spec.table.name}" (id, v, "$partition", "$group") VALUES (3, '{3,0.5}', '_default', 1)`,
    );
    const resumed = await staging.begin({ ...spec, token: 2n });
    expect([...resumed.staged]).toEqual([[1, 1]]);
  });

  it('a one-group publish COPYs straight into the collection, and an overtaken run commits nothing', async () => {
    const make = await newJob();
    await staging.begin(make(1n));
    await staging.begin(make(2n));
    await expectSinkError(
      staging.publishDirect(make(1n), copyingBatches(fromArray([batch([1, 2])]), never), never),
      SinkErrorCode.FenceLost,
    );
    expect(await env.count(make(1n).target)).toBe(0);
    let completedWith = -1;
    const rows = await staging.publishDirect(
      make(2n),
      copyingBatches(fromArray([batch([1, 2, 3])]), never),
      never,
      async (_c, n) => {
        completedWith = n;
      },
    );
    expect([rows, completedWith, await env.count(make(2n).target)]).toEqual([3, 3, 3]);
    // The publish is recorded: a later run of the job publishes nothing again.
    expect((await staging.begin(make(3n))).publishedRows).toBe(3);
  });
});
