import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootLogger, withLogContext } from '@gw/logger';
import { accessLogMiddleware } from './access-log';
import { stateOf } from './request-context';

let out = '';
let base = '';
let close: () => void = () => undefined;

beforeAll(async () => {
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const log = createRootLogger('debug', sink);
  const app = express();
  app.use((req, _res, next) => {
    stateOf(req).requestId = req.header('x-request-id') ?? 'generated';
    withLogContext({ requestId: stateOf(req).requestId }, next);
  });
  app.use(accessLogMiddleware(log));
  app.get('/v2/volumes/:name', (req, res) => {
    stateOf(req).principal = { keyId: '42', scopes: [], databases: [], collections: [] };
    log.info('handler line');
    res.json({ ok: true });
  });
  app.get('/boom', (_req, res) => {
    res.status(500).end();
  });
  app.get('/health/live', (_req, res) => {
    res.end('ok');
  });
  await new Promise<void>((resolve) => {
    const srv = app.listen(0, '127.0.0.1', () => {
      base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      close = () => srv.close();
      resolve();
    });
  });
});
afterAll(() => close());

const lines = () =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const access = (id: string) => lines().filter((l) => l.log === 'access' && l.requestId === id);
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('access log', () => {
  it('writes one line with request id, route pattern, status, duration and key id, and nothing secret', async () => {
    await fetch(`${base}/v2/volumes/secret-volume-name?token=qs-secret`, {
      headers: { authorization: 'Bearer igw_supersecret', 'x-request-id': 'r-1', cookie: 'c=cookie-secret' },
    });
    await settle();
    const [l, ...more] = access('r-1');
    expect(more).toEqual([]);
    expect(l).toMatchObject({ level: 30, msg: 'request', method: 'GET', route: '/v2/volumes/:name', status: 200 });
    expect(l?.keyId).toBe('42');
    expect(typeof l?.durationMs).toBe('number');
    expect(Object.keys(l ?? {}).sort()).toEqual(
      ['durationMs', 'keyId', 'level', 'log', 'method', 'msg', 'pid', 'requestId', 'route', 'status', 'time'].sort(),
    );
    for (const secret of ['igw_supersecret', 'qs-secret', 'cookie-secret', 'secret-volume-name']) {
      expect(out).not.toContain(secret);
    }
    // The handler's own lines carry the request id too (log context), exactly once per line.
    const handler = lines().find((x) => x.msg === 'handler line');
    expect(handler?.requestId).toBe('r-1');
    expect(out.split('\n').every((x) => (x.match(/"requestId"/g) ?? []).length <= 1)).toBe(true);
  });

  it('logs a 5xx at error, an unmatched path as such, and probes at debug', async () => {
    await fetch(`${base}/boom`, { headers: { 'x-request-id': 'r-2' } });
    await fetch(`${base}/nope/123`, { headers: { 'x-request-id': 'r-3' } });
    await fetch(`${base}/health/live`, { headers: { 'x-request-id': 'r-4' } });
    await settle();
    expect(access('r-2')[0]).toMatchObject({ level: 50, route: '/boom', status: 500 });
    expect(access('r-3')[0]).toMatchObject({ level: 30, route: 'unmatched', status: 404 });
    expect(access('r-3')[0]?.keyId).toBeUndefined();
    expect(access('r-4')[0]).toMatchObject({ level: 20, route: '/health/live' });
  });
});
