import { describe, expect, it } from 'vitest';
import { parseAzureConnectionString } from './azure-connection-string';
import { ConfigError, loadConfig } from './config';

const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

describe('parseAzureConnectionString', () => {
  it('reads AccountName and AccountKey (values keep their = padding), keys in any case', () => {
    expect(
      parseAzureConnectionString(
        `DefaultEndpointsProtocol=https;accountname=acct;ACCOUNTKEY=${KEY};EndpointSuffix=core.windows.net`,
      ),
    ).toEqual({ accountName: 'acct', accountKey: KEY });
  });
  it('reads a SharedAccessSignature without its leading ?', () => {
    expect(
      parseAzureConnectionString(
        'BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=?sv=2024&sig=a%3D',
      ),
    ).toEqual({
      sharedAccessSignature: 'sv=2024&sig=a%3D',
    });
  });
  it('is null for a plain account key, for no credential, and for unknown keys', () => {
    expect(parseAzureConnectionString(KEY)).toBeNull();
    expect(parseAzureConnectionString('AccountName=acct;DefaultEndpointsProtocol=https')).toBeNull();
    expect(parseAzureConnectionString(`AccountName=acct;AccountKey=${KEY};Password=x`)).toBeNull();
    expect(parseAzureConnectionString('')).toBeNull();
  });
});

describe('STORAGE_AZURE_CONNECTION_STRING', () => {
  const base = {
    DATABASE_URL: 'postgresql://127.0.0.1/x',
    REDIS_URL: 'redis://127.0.0.1:6379',
    GATEWAY_SECRET_KEY: '11'.repeat(32),
  };
  it('gives the Azure default account and key (or SAS); explicit variables win', () => {
    expect(
      loadConfig({ ...base, STORAGE_AZURE_CONNECTION_STRING: `AccountName=acct;AccountKey=${KEY}` }).storage.azure,
    ).toEqual({
      account: 'acct',
      key: KEY,
    });
    expect(
      loadConfig({ ...base, STORAGE_AZURE_CONNECTION_STRING: 'AccountName=acct;SharedAccessSignature=sv=1&sig=x' })
        .storage.azure,
    ).toEqual({
      account: 'acct',
      sas: 'sv=1&sig=x',
    });
    expect(
      loadConfig({
        ...base,
        STORAGE_AZURE_KEY: 'other',
        STORAGE_AZURE_CONNECTION_STRING: `AccountName=acct;AccountKey=${KEY}`,
      }).storage.azure,
    ).toEqual({ account: 'acct', key: 'other' });
  });
  it('refuses a malformed one or another account, naming the variable and never the key', () => {
    for (const [env, problem] of [
      [{ STORAGE_AZURE_CONNECTION_STRING: `AccountKey=${KEY}` }, 'expected AccountName=<account>;AccountKey=<key>'],
      [
        { STORAGE_AZURE_ACCOUNT: 'b', STORAGE_AZURE_CONNECTION_STRING: `AccountName=a;AccountKey=${KEY}` },
        'its AccountName differs from STORAGE_AZURE_ACCOUNT',
      ],
    ] as const) {
      let err: unknown;
      try {
        loadConfig({ ...base, ...env });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain(`STORAGE_AZURE_CONNECTION_STRING: ${problem}`);
      expect((err as ConfigError).message).not.toContain(KEY);
    }
  });
});
