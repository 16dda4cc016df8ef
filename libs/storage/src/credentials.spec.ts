import { describe, expect, it } from 'vitest';
import { validateCredentials } from './credentials';
import type { ObjectLocation } from './location';
import { StorageErrorCode } from './storage.errors';

const loc = (provider: ObjectLocation['provider'], account?: string): ObjectLocation => ({
  provider,
  bucket: 'b',
  key: 'k',
  isFolder: false,
  host: 'h',
  display: 'x://b/k',
  ...(account === undefined ? {} : { account }),
});
const SA = JSON.stringify({ type: 'service_account', client_email: 'a@p.iam.gserviceaccount.com', private_key: 'PEM' });

function failure(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected failure');
}

describe('validateCredentials', () => {
  it('returns undefined when nothing is given, so server defaults apply', () => {
    expect(validateCredentials(undefined)).toBeUndefined();
    expect(validateCredentials({ accessKey: ' ', secretKey: '' })).toBeUndefined();
  });

  it('accepts key pairs, session tokens and a lone OAuth/SAS token', () => {
    expect(validateCredentials({ accessKey: 'A', secretKey: 'S', token: 'T' }, loc('s3'))).toEqual({
      accessKey: 'A',
      secretKey: 'S',
      token: 'T',
    });
    expect(validateCredentials({ token: 'ya29.x' }, loc('gcs'))).toEqual({ token: 'ya29.x' });
    expect(validateCredentials({ token: '?sv=1&sig=x' }, loc('azure', 'acct'))).toEqual({ token: '?sv=1&sig=x' });
  });

  it('accepts a GCS service-account JSON in secretKey alone', () => {
    expect(validateCredentials({ secretKey: SA }, loc('gcs'))).toEqual({ secretKey: SA });
  });

  it.each([
    [{ accessKey: 'A' }, 's3'],
    [{ secretKey: 'S' }, 's3'],
    [{ secretKey: SA }, 's3'],
    [{ token: 'T' }, 's3'],
    [{ accessKey: 'other', secretKey: 'K' }, 'azure'],
  ] as const)('refuses %j for %s with a 1100-class error that echoes no value', (creds, provider) => {
    const e = failure(() => validateCredentials(creds, loc(provider, 'acct')));
    expect((e as { code?: string }).code).toBe(StorageErrorCode.InvalidCredentials);
    for (const v of Object.values(creds)) expect(e.message).not.toContain(v.length > 3 ? v : '\u0000');
  });
});
