import { describe, expect, it } from 'vitest';
import { CodedError } from '@gw/errors';
import { isTransientPgError, quoteIdent } from './index';

describe('isTransientPgError', () => {
  it.each(['08006', '08P01', '53300', '57P01', '57014', '55P03', '40001', '40P01'])(
    'retries SQLSTATE %s (connection, resources, shutdown, timeouts, serialization)',
    (code) => {
      expect(isTransientPgError(Object.assign(new Error('x'), { code }))).toBe(true);
    },
  );

  it.each(['23505', '22P02', '42P01', '42501'])('does not retry data or schema error %s', (code) => {
    expect(isTransientPgError(Object.assign(new Error('x'), { code }))).toBe(false);
  });

  it('retries broken sockets and a pool checkout that timed out', () => {
    expect(isTransientPgError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientPgError(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isTransientPgError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('follows a coded error’s own retryable flag', () => {
    expect(isTransientPgError(new CodedError('X', 'x', { retryable: true }))).toBe(true);
    expect(isTransientPgError(new CodedError('X', 'x'))).toBe(false);
    expect(isTransientPgError(new Error('bad row'))).toBe(false);
  });
});

describe('quoteIdent', () => {
  it('doubles quotes and refuses NUL', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(() => quoteIdent('a\u0000')).toThrow('identifier contains NUL');
  });
});
