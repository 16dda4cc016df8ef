import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, gatewayEnv, REPO_ROOT, startTestGateway, type TestGateway } from '@gw/testing';

let gw: TestGateway;

function apikey(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(REPO_ROOT, 'dist/scripts/apikey.js'), ...args], {
    env: gatewayEnv({ DATABASE_URL: gw.config.databaseUrl }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('npm run apikey', () => {
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  it('creates a key printed alone on the last line, stores only its hash, and revokes it', async () => {
    const created = apikey(['create', '--name', 'ci-bot', '--scopes', 'import:read,collections:read']);
    expect(created.code).toBe(0);
    const key = created.out.trimEnd().split('\n').pop()!;
    expect(key).toMatch(/^igw_[A-Za-z0-9]{40}$/);
    const stored = await gw.db.query(`SELECT * FROM api_keys WHERE name = 'ci-bot'`);
    expect(JSON.stringify(stored.rows)).not.toContain(key);
    expect(stored.rows[0].scopes).toEqual(['import:read', 'collections:read']);

    expect((await call(gw, 'POST', '/v2/vectordb/jobs/import/list', { key, body: {} })).body.code).toBe(0);
    const revoked = apikey(['revoke', key.slice(0, 12)]);
    expect(revoked.code).toBe(0);
    // The API reuses a verified key for API_KEY_CACHE_MS (1 s): the revocation is seen within it.
    const deadline = Date.now() + gw.config.apiKeyCacheMs + 500;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await call(gw, 'POST', '/v2/vectordb/jobs/import/list', { key, body: {} })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
  });

  it('refuses unknown scopes and prints usage', () => {
    const r = apikey(['create', '--name', 'x', '--scopes', 'import:read,root']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown scope(s): root');
  });
});
