import { describe, expect, it } from 'vitest';
import { ConfigError } from './config';
import { loadCliConfig } from './cli-config';

describe('CLI configuration', () => {
  it('defaults to the local gateway on PORT, else 19530, with no key', () => {
    expect(loadCliConfig({})).toEqual({ url: 'http://127.0.0.1:19530', key: undefined });
    expect(loadCliConfig({ PORT: '8080' }).url).toBe('http://127.0.0.1:8080');
  });

  it('takes IMPORT_GATEWAY_URL without its trailing slash, and IMPORT_GATEWAY_KEY', () => {
    expect(
      loadCliConfig({ IMPORT_GATEWAY_URL: 'https://gw.example.com/', IMPORT_GATEWAY_KEY: 'igw_x', PORT: '1' }),
    ).toEqual({ url: 'https://gw.example.com', key: 'igw_x' });
  });

  it('refuses a URL that is not http(s), naming the variable', () => {
    expect(() => loadCliConfig({ IMPORT_GATEWAY_URL: 'gw:19530' })).toThrow(ConfigError);
    expect(() => loadCliConfig({ IMPORT_GATEWAY_URL: 'gw:19530' })).toThrow(
      'IMPORT_GATEWAY_URL: expected a URL starting with http:// or https:// (got "gw:19530")',
    );
  });
});
