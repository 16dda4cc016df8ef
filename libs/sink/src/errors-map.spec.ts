import { describe, expect, it } from 'vitest';
import { SinkError, SinkErrorCode, toSinkError } from './index';

const pgError = (code: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`pg ${code}`), { code, ...extra });

describe('toSinkError', () => {
  it.each(['08006', '08P01', '57P01', '57P02', '57P03', '53300', '53100', '40001', '40P01', '57014'])(
    'marks SQLSTATE %s retryable as a connection-class error',
    (code) => {
      expect(toSinkError(pgError(code))).toMatchObject({ code: SinkErrorCode.Connection, retryable: true });
    },
  );

  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'])('marks socket error %s retryable', (code) => {
    expect(toSinkError(pgError(code))).toMatchObject({ code: SinkErrorCode.Connection, retryable: true });
  });

  it('marks the driver’s "Connection terminated unexpectedly" retryable', () => {
    expect(toSinkError(new Error('Connection terminated unexpectedly'))).toMatchObject({
      code: SinkErrorCode.Connection,
      retryable: true,
    });
  });

  it('names a duplicate key whose value contains parentheses and commas', () => {
    const e = toSinkError(
      pgError('23505', { detail: 'Key (name)=(a (b), c) already exists.', constraint: 'coll_pkey' }),
    );
    expect(e.message).toBe('duplicate primary key: name=a (b), c');
    expect(e.retryable).toBe(false);
  });

  it('names the $meta check and not-null columns', () => {
    expect(toSinkError(pgError('23514', { constraint: 'gw_check_meta' })).message).toBe(
      "check constraint gw_check_meta violated (field '$meta')",
    );
    expect(toSinkError(pgError('23502', { column: 'title' }))).toMatchObject({
      code: SinkErrorCode.NotNullViolation,
      message: "null value in column 'title'",
      retryable: false,
    });
  });

  it('keeps other data errors non-retryable with PostgreSQL’s message, and passes SinkErrors through', () => {
    expect(toSinkError(pgError('22P02'))).toMatchObject({ code: SinkErrorCode.InvalidData, retryable: false });
    expect(toSinkError(pgError('42703'))).toMatchObject({ code: SinkErrorCode.Database, retryable: false });
    const own = new SinkError(SinkErrorCode.Aborted, 'x');
    expect(toSinkError(own)).toBe(own);
  });
});
