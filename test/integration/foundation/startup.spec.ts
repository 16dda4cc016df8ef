import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, gatewayEnv, type RunningProcess, startNode, waitForStatus } from '@gw/testing';

const running: RunningProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
});

function start(file: string, env: NodeJS.ProcessEnv): RunningProcess {
  const p = startNode(file, env);
  running.push(p);
  return p;
}

describe('starting the service', () => {
  it('`npm start` runs API and worker together and answers /health/ready within 15 s, and stops on SIGTERM', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const p = start('scripts/start-all.js', gatewayEnv({ PORT: String(port) }));
    const body = await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 15_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(JSON.parse(body.slice(4))).toMatchObject({
      status: 'ok',
      checks: { postgres: { status: 'ok' }, redis: { status: 'ok' }, migrations: { status: 'ok' } },
    });
    // the worker is a separate process that started as well
    await expect.poll(() => p.output(), { timeout: 10_000 }).toContain('import-gateway worker started');
    const t1 = Date.now();
    const exit = await p.stop('SIGTERM');
    expect(Date.now() - t1).toBeLessThan(10_000);
    expect(exit.code).toBe(0);
  });

  it('exits within 10 s naming PostgreSQL, the URL without its password, and how to start it', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const p = start(
      'apps/api/src/main.js',
      gatewayEnv({ DATABASE_URL: `postgresql://app:s3cretpw@127.0.0.1:${port}/gw`, PORT: String(await freePort()) }),
    );
    const exit = await p.exited;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(exit.code).toBe(69);
    expect(p.output()).toContain(`PostgreSQL is not reachable at postgresql://app:***@127.0.0.1:${port}/gw`);
    expect(p.output()).toContain('Start PostgreSQL');
    expect(p.output()).not.toContain('s3cretpw');
  });

  it('exits within 10 s naming Redis when it is not running', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const p = start('apps/worker/src/main.js', gatewayEnv({ REDIS_URL: `redis://:pw123@127.0.0.1:${port}` }));
    const exit = await p.exited;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(exit.code).toBe(69);
    expect(p.output()).toContain(`Redis is not reachable at redis://:***@127.0.0.1:${port}`);
    expect(p.output()).toContain('Start Redis');
    expect(p.output()).not.toContain('pw123');
  });

  it('refuses an invalid variable at start, naming it and the expected form', async () => {
    const p = start('apps/api/src/main.js', gatewayEnv({ PORT: 'eighty', WORKER_CONCURRENCY: '0' }));
    const exit = await p.exited;
    expect(exit.code).toBe(78);
    expect(p.output()).toContain('PORT: expected a whole number from 0 to 65535 (got "eighty")');
    expect(p.output()).toContain('WORKER_CONCURRENCY: expected a whole number from 1 to 256');
  });

  it('refuses AUTH_DISABLED=true with NODE_ENV=production (exit 78) unless HOST is a loopback address', async () => {
    for (const file of ['apps/api/src/main.js', 'apps/worker/src/main.js']) {
      const p = start(
        file,
        gatewayEnv({ NODE_ENV: 'production', AUTH_DISABLED: 'true', HOST: '0.0.0.0', PORT: String(await freePort()) }),
      );
      const exit = await p.exited;
      expect(exit.code, p.output()).toBe(78);
      expect(p.output()).toContain(
        'AUTH_DISABLED=true with NODE_ENV=production is refused unless HOST is a loopback address (HOST=0.0.0.0)',
      );
    }
    const port = await freePort();
    const api = start(
      'apps/api/src/main.js',
      gatewayEnv({ NODE_ENV: 'production', AUTH_DISABLED: 'true', HOST: '127.0.0.1', PORT: String(port) }),
    );
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 15_000);
    expect(api.output()).toContain('AUTH_DISABLED=true');
  });

  it('lets API and worker start at the same moment without a migration race', async () => {
    const port = await freePort();
    const api = start('apps/api/src/main.js', gatewayEnv({ PORT: String(port) }));
    const worker = start('apps/worker/src/main.js', gatewayEnv());
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 15_000);
    await expect.poll(() => worker.output(), { timeout: 10_000 }).toContain('import-gateway worker started');
    expect(api.child.exitCode).toBeNull();
  });
});

describe('readiness follows Redis', () => {
  it('answers 503 naming Redis while Redis is down and 200 again when it returns', async () => {
    const redisPort = await freePort();
    const startRedis = () =>
      spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
    let redis = startRedis();
    try {
      const port = await freePort();
      start('apps/api/src/main.js', gatewayEnv({ PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}` }));
      const ready = `http://127.0.0.1:${port}/health/ready`;
      await waitForStatus(ready, 200, 15_000);

      redis.kill('SIGKILL');
      const down = await waitForStatus(ready, 503, 10_000);
      const body = JSON.parse(down.slice(4)) as { status: string; checks: Record<string, { status: string }> };
      expect(body.status).toBe('unavailable: redis');
      expect(body.checks.redis?.status).toBe('error');
      expect(body.checks.postgres?.status).toBe('ok');
      expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);

      redis = startRedis();
      await waitForStatus(ready, 200, 15_000);
    } finally {
      redis.kill('SIGKILL');
    }
  });
});
