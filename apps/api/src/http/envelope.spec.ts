import { describe, expect, it } from 'vitest';
import { CollectionsError, CollectionsErrorCode } from '@gw/collections';
import { JobsErrorCode, jobsErrors } from '@gw/jobs';
import { HTTP_TO_MILVUS, JOBS_TO_MILVUS, toEnvelope } from './envelope';
import { httpErrors } from './http.errors';

describe('toEnvelope', () => {
  it('keeps typed codes: jobs, HTTP and collections errors', () => {
    expect(toEnvelope(jobsErrors.activeJobLimit(), 'x')).toEqual({
      status: 200,
      body: { code: 2101, message: 'The number of jobs has reached the limit, please try again later' },
    });
    expect(toEnvelope(httpErrors.unauthenticated(), 'x')).toEqual({
      status: 401,
      body: { code: 1800, message: "user hasn't authenticated" },
    });
    expect(
      toEnvelope(new CollectionsError(CollectionsErrorCode.BadPrimaryKey, 'please check the primary key'), 'x').body
        .code,
    ).toBe(1806);
    expect(JOBS_TO_MILVUS[JobsErrorCode.JobNotFound]).toEqual({ http: 200, code: 2100 });
    expect(Object.values(HTTP_TO_MILVUS).map((m) => m.code)).toEqual([1800, 1401, 1801, 1102, 10001, 404, 1100]);
  });

  it('turns an unexpected error into 65535 with the error id and nothing of the error itself', () => {
    const env = toEnvelope(new Error('secret detail: password=hunter2'), 'e-123');
    expect(env).toEqual({ status: 200, body: { code: 65535, message: 'unexpected error, errorId=e-123' } });
  });

  it('answers 2 "service unavailable" for PostgreSQL connection failures', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    for (const e of [refused, shutdown, new AggregateError([refused])]) {
      expect(toEnvelope(e, 'x')).toEqual({ status: 200, body: { code: 2, message: 'service unavailable' } });
    }
  });

  it('answers 2 to a lock or statement timeout (a drop behind a stuck import), so the client retries', () => {
    for (const code of ['55P03', '57014']) {
      const e = Object.assign(new Error('canceling statement due to lock timeout'), { code });
      expect(toEnvelope(e, 'x')).toEqual({ status: 200, body: { code: 2, message: 'service unavailable' } });
    }
  });
});
