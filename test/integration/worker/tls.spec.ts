import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { makeTestCertificates } from '../../support/tls-certificates';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from './fixtures';

/** Starts one import of `objectUrl` into a fresh collection and waits until it ends. */
async function importOnce(
  gw: TestGateway,
  objectUrl: string,
  timeoutMs: number,
): Promise<{ state: string; reason: string; attempts: number; collection: string; ms: number }> {
  const key = await gw.apiKey(['admin']);
  const collection = uniqueName('tls');
  await call(gw, 'POST', '/v2/vectordb/collections/create', {
    key,
    body: { collectionName: collection, dimension: 4 },
  });
  const t0 = Date.now();
  const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
    key,
    body: { collectionName: collection, objectUrl },
  });
  const jobId = (r.body.data as { jobId: string }).jobId;
  await expect
    .poll(
      async () => {
        const d = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
        return (d.body.data as { gatewayState: string }).gatewayState;
      },
      { timeout: timeoutMs, interval: 100 },
    )
    .toMatch(/^(Completed|Failed)$/);
  const ms = Date.now() - t0;
  const row = await gw.db.query(`SELECT state, reason, attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
  return { ...(row.rows[0] as { state: string; reason: string; attempts: number }), collection, ms };
}

describe('TLS to an object server with a private CA (STORAGE_CA_FILE)', () => {
  let server: Server;
  let s3: S3TestServer;
  let url: string;
  let gw: TestGateway;
  let worker: TestWorker;
  let plain: TestGateway;
  let plainWorker: TestWorker;
  const body = jsonl(range(1, 300));
  beforeAll(async () => {
    const certs = makeTestCertificates();
    server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const headers = { etag: '"v1"', 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(Number(range[2]), body.length - 1);
        res.writeHead(206, {
          ...headers,
          'content-range': `bytes ${start}-${end}/${body.length}`,
          'content-length': end - start + 1,
        });
        res.end(body.subarray(start, end + 1));
      } else {
        res.writeHead(200, { ...headers, 'content-length': body.length });
        res.end(body);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/rows.jsonl`;
    s3 = new S3TestServer({ S3RVER: { secretKey: 'S3RVER' } }, { tls: { key: certs.key, cert: certs.cert } });
    await s3.start();
    s3.putDirect('data', 'rows.jsonl', body);
    const s3Env = {
      STORAGE_ALLOW_HTTP: 'false',
      ...s3.gatewayEnv('data'),
      // Both workers of this file share the run's queue prefix: a job one of them skips (not in its
      // database) is handed back by its own gateway's reconciler soon.
      WORKER_RECONCILE_INTERVAL_MS: '500',
    };
    gw = await startTestGateway({ ...s3Env, STORAGE_CA_FILE: certs.caFile });
    worker = await startTestWorker(gw.config);
    plain = await startTestGateway(s3Env);
    plainWorker = await startTestWorker(plain.config);
  });
  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    await plainWorker?.close();
    await plain?.close();
    await s3?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it.each([
    ['a plain https:// URL', () => url],
    ['an S3 endpoint (STORAGE_S3_ENDPOINT=https://…)', () => 's3://data/rows.jsonl'],
  ])('imports from %s whose certificate chains to the configured CA', async (_, objectUrl) => {
    const r = await importOnce(gw, objectUrl(), 30_000);
    expect(`${r.state} ${r.reason}`).toBe('Completed ');
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${r.collection}"`));
    expect(d.rows[0]).toEqual({ n: 300, text: expectedDigestInput(range(1, 300)) });
  });

  it.each([
    ['a plain https:// URL', () => url, () => url],
    ['an S3 endpoint', () => 's3://data/rows.jsonl', () => 's3://data/rows.jsonl'],
  ])(
    'fails the job from %s at once, without retries, when the certificate does not chain to a trusted CA',
    async (_, objectUrl, display) => {
      const before = s3.connections;
      const r = await importOnce(plain, objectUrl(), 15_000);
      expect(r.state).toBe('Failed');
      expect(r.ms).toBeLessThan(10_000);
      expect(r.reason.startsWith(`TLS certificate rejected: ${display()} (`)).toBe(true);
      expect(r.reason).toMatch(
        /\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN); set STORAGE_CA_FILE for a private CA\)$/,
      );
      expect(r.attempts).toBe(1);
      if (objectUrl().startsWith('s3:')) expect(s3.connections - before).toBe(1);
    },
  );

  it('refuses a CA file that holds no certificate, naming the variable', async () => {
    await expect(startTestGateway({ STORAGE_CA_FILE: '/etc/hostname' })).rejects.toThrow(
      /STORAGE_CA_FILE: expected a readable file of PEM certificates/,
    );
  });
});
