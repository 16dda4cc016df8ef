import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { describe, expect, it } from 'vitest';
import type { CollectionDef } from '@gw/collections';
import { loadConfig } from '@gw/config';
import type { AcquireResult, JobRun, RenewResult, TerminalState } from '@gw/db';
import { CodedError } from '@gw/errors';
import { SinkError, SinkErrorCode } from '@gw/sink';
import { CredentialsCipher } from './credentials-cipher';
import { FatalImportError, RetryableImportError, RunImportJob } from './run-import.usecase';
import type { JobRunsPort, JobStagingPort } from './run-ports';

/**
 * The run's orchestration against fakes of its two ports (job tables, staging): which outcome
 * each situation ends in, and which writes it makes. SQL and COPY are covered by the
 * integration tests (test/integration/worker, test/integration/sink/job-staging.spec.ts).
 */
const config = loadConfig({
  NODE_ENV: 'test',
  GATEWAY_SECRET_KEY: randomBytes(32).toString('hex'),
  WORKER_LEASE_MS: '1500',
});

const RUN: JobRun = {
  id: '7',
  jobId: 'job-unit',
  dbName: 'default',
  collectionName: 'c',
  partitionName: null,
  options: {},
  timeoutMs: null,
  deadlineAt: null,
  credentialsId: null,
  fromState: 'Pending',
  token: 3n,
  attempt: 1,
  maxAttempts: 3,
  owner: 'w#1',
};

const COLLECTION: CollectionDef = {
  id: 1,
  db: 'default',
  name: 'c',
  description: '',
  schema: { enableDynamicField: false, fields: [] },
  indexes: [],
  params: {},
  storage: { vectorType: 'array', halfvec: false },
};

type Call = [string, ...unknown[]];

function fakes(over: { runs?: Partial<JobRunsPort>; staging?: Partial<JobStagingPort> } = {}) {
  const calls: Call[] = [];
  const note =
    <A extends unknown[], R>(name: string, result: (...a: A) => R) =>
    (...a: A): R => {
      calls.push([name, ...a]);
      return result(...a);
    };
  const runs: JobRunsPort = {
    acquire: note('acquire', async (): Promise<AcquireResult> => ({ kind: 'acquired', run: { ...RUN } })),
    claimGroup: note('claimGroup', async () => null),
    complete: note('complete', async () => true),
    credentials: note('credentials', async () => undefined),
    end: note('end', async (_r: unknown, e: { state: TerminalState }): Promise<TerminalState | null> => e.state),
    fail: note('fail', async (): Promise<TerminalState | null> => 'Failed'),
    files: note('files', async () => []),
    findJobToHelp: note('findJobToHelp', async () => null),
    installationId: async () => 'inst',
    joinRun: note('joinRun', async () => null),
    loadedObjects: note('loadedObjects', async () => new Map<string, { version: string; size: number }>()),
    markGroupStaged: note('markGroupStaged', async () => undefined),
    plannedVersions: async () => ({}),
    recordPlan: note('recordPlan', async () => undefined),
    recordSkips: note('recordSkips', async () => undefined),
    release: note('release', async () => undefined),
    releaseClaim: note('releaseClaim', async () => undefined),
    renew: async (): Promise<RenewResult> => 'renewed',
    renewClaims: async (): Promise<RenewResult> => 'renewed',
    writeProgress: async () => true,
    ...over.runs,
  };
  const staging: JobStagingPort = {
    begin: note('begin', async () => ({ staged: new Map<number, number>(), publishedRows: null })),
    drop: note('drop', async () => undefined),
    inPublishTransaction: note('inPublishTransaction', async (_spec, _groups, run) =>
      run({} as PoolClient, async () => 42),
    ),
    stageGroup: note('stageGroup', async () => 0),
    publishDirect: note('publishDirect', async () => 0),
    staged: note('staged', async () => new Map<number, number>()),
    ...over.staging,
  };
  const pool = {} as Pool; // one object: job and collection tables share a database
  const useCase = new RunImportJob({
    jobs: pool,
    target: pool,
    cipher: new CredentialsCipher(randomBytes(32)),
    config,
    workerId: 'w',
    runs,
    staging,
    collection: async () => COLLECTION,
  });
  const names = () => calls.map((c) => c[0]);
  return { useCase, calls, names };
}

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('RunImportJob orchestration', () => {
  it('skips a job another run holds, touching nothing else', async () => {
    const f = fakes({ runs: { acquire: async () => ({ kind: 'skipped', why: 'busy' }) } });
    expect(await f.useCase.execute('job-unit')).toEqual({ outcome: 'skipped', detail: 'busy' });
    expect(f.names()).toEqual([]);
  });

  it('drops the staging of a job whose attempts were used up (acquire failed it)', async () => {
    const reason = 'worker stopped while importing (attempt 3 of 3)';
    const f = fakes({ runs: { acquire: async () => ({ kind: 'exhausted', id: '7', jobId: 'job-unit', reason }) } });
    expect(await f.useCase.execute('job-unit')).toEqual({ outcome: 'failed', detail: reason });
    expect(f.calls).toEqual([['drop', 'j_inst_7']]);
  });

  it('plans, waits for every group to be staged, publishes and completes in the publish transaction', async () => {
    const f = fakes();
    expect(await f.useCase.execute('job-unit')).toEqual({ outcome: 'completed' });
    expect(f.names()).toEqual([
      'acquire',
      'begin',
      'files',
      'recordPlan',
      'claimGroup',
      'staged',
      'inPublishTransaction',
      'complete',
      'drop',
    ]);
    const complete = f.calls.find((c) => c[0] === 'complete')!;
    expect(complete[3]).toBe(42); // the published row count
  });

  it('groups an earlier run staged are marked done, not staged again', async () => {
    const f = fakes({ staging: { begin: async () => ({ staged: new Map([[0, 10]]), publishedRows: null }) } });
    await f.useCase.execute('job-unit');
    expect(f.calls.filter((c) => c[0] === 'markGroupStaged').map((c) => c.slice(3))).toEqual([[0, 10]]);
    expect(f.names()).not.toContain('stageGroup');
  });

  it('a newer run holding the fence ends this run as released, failing and releasing nothing', async () => {
    const fence = new SinkError(SinkErrorCode.FenceLost, 'run 3 of job-unit lost its fence: run 4 took the job over');
    const f = fakes({
      staging: {
        begin: async () => {
          throw fence;
        },
      },
    });
    expect(await f.useCase.execute('job-unit')).toEqual({ outcome: 'released', detail: fence.message });
    expect(f.names()).toEqual(['acquire']);
  });

  it('a transient failure with attempts left releases the job for a retry', async () => {
    const f = fakes({
      runs: {
        files: async () => {
          throw pgError('57P01', 'terminating connection due to administrator command');
        },
      },
    });
    await expect(f.useCase.execute('job-unit')).rejects.toThrow(RetryableImportError);
    expect(f.calls.filter((c) => c[0] === 'release').map((c) => c[2])).toEqual([
      'attempt 1 of 3 failed: terminating connection due to administrator command',
    ]);
    expect(f.names()).not.toContain('fail');
  });

  it('a transient failure on the last attempt fails the job naming the attempts, and drops staging', async () => {
    const f = fakes({
      runs: {
        acquire: async () => ({ kind: 'acquired', run: { ...RUN, attempt: 3 } }),
        files: async () => {
          throw pgError('08006', 'connection failure');
        },
      },
    });
    await expect(f.useCase.execute('job-unit')).rejects.toThrow(FatalImportError);
    expect(f.calls.filter((c) => c[0] === 'fail').map((c) => c[2])).toEqual([
      'gave up after 3 of 3 attempts: connection failure',
    ]);
    expect(f.names()).toContain('drop');
    expect(f.names()).not.toContain('release');
  });

  it('bad input fails the job at once, whatever attempts are left', async () => {
    const f = fakes({
      runs: {
        files: async () => {
          throw new CodedError('INVALID_DATA', "rows.jsonl: row 3, field 'vector': expected 4 numbers");
        },
      },
    });
    await expect(f.useCase.execute('job-unit')).rejects.toThrow(FatalImportError);
    expect(f.calls.filter((c) => c[0] === 'fail').map((c) => c.slice(2))).toEqual([
      ["rows.jsonl: row 3, field 'vector': expected 4 numbers", null],
    ]);
  });

  it('a cancel seen at a lease renewal ends the run cancelled and drops its staging', async () => {
    const f = fakes({
      runs: { renew: async () => 'cancelled' },
      staging: {
        // Slow enough for one renewal (every 500 ms with a 1.5 s lease) to happen first.
        begin: async () => {
          await new Promise((r) => setTimeout(r, 800));
          return { staged: new Map<number, number>(), publishedRows: null };
        },
      },
    });
    expect(await f.useCase.execute('job-unit')).toEqual({ outcome: 'cancelled' });
    expect(f.names()).toContain('drop');
    expect(f.names()).not.toContain('inPublishTransaction');
  });

  it('an idle slot finds no job to help and asks PostgreSQL at most every 500 ms', async () => {
    const f = fakes();
    expect(await f.useCase.helpOnce()).toBe(false);
    expect(await f.useCase.helpOnce()).toBe(false);
    expect(f.names()).toEqual(['findJobToHelp']);
  });
});
