import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from './fixtures';

/** A private CA and a server certificate for 127.0.0.1, written by openssl. */
function makeCertificates(): { dir: string; ca: string; key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'igw-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=igw test CA',
  );
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  execFileSync(
    'sh',
    [
      '-c',
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf",
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return { dir, ca: join(dir, 'ca.pem'), key: join(dir, 'server.key'), cert: join(dir, 'server.pem') };
}

describe('TLS to an object server with a private CA (STORAGE_CA_FILE)', () => {
  let server: Server;
  let url: string;
  let gw: TestGateway;
  let worker: TestWorker;
  const body = jsonl(range(1, 300));
  beforeAll(async () => {
    const certs = makeCertificates();
    server = createServer({ key: readFileSync(certs.key), cert: readFileSync(certs.cert) }, (req, res) => {
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
    gw = await startTestGateway({ STORAGE_CA_FILE: certs.ca, STORAGE_ALLOW_HTTP: 'false' });
    worker = await startTestWorker(gw.config);
  });
  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('imports over https from a server whose certificate chains to the configured CA', async () => {
    const key = await gw.apiKey(['admin']);
    const c = uniqueName('tls');
    await call(gw, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: c, dimension: 4 } });
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: c, objectUrl: url },
    });
    const jobId = (r.body.data as { jobId: string }).jobId;
    await expect
      .poll(
        async () => {
          const d = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
          const data = d.body.data as { gatewayState: string; reason: string };
          return `${data.gatewayState} ${data.reason}`;
        },
        { timeout: 30_000, interval: 100 },
      )
      .toBe('Completed ');
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: 300, text: expectedDigestInput(range(1, 300)) });
  });

  it('fails the job at once, without retries, when the certificate does not chain to a trusted CA', async () => {
    const plain = await startTestGateway({ STORAGE_ALLOW_HTTP: 'false' });
    const w = await startTestWorker(plain.config);
    try {
      const key = await plain.apiKey(['admin']);
      const c = uniqueName('tlsno');
      await call(plain, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: c, dimension: 4 } });
      const r = await call(plain, 'POST', '/v2/vectordb/jobs/import/create', {
        key,
        body: { collectionName: c, objectUrl: url },
      });
      const jobId = (r.body.data as { jobId: string }).jobId;
      const t0 = Date.now();
      await expect
        .poll(
          async () => {
            const d = await call(plain, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
            return (d.body.data as { gatewayState: string }).gatewayState;
          },
          { timeout: 15_000, interval: 100 },
        )
        .toBe('Failed');
      expect(Date.now() - t0).toBeLessThan(10_000);
      const row = await plain.db.query(`SELECT reason, attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
      expect(row.rows[0].reason).toMatch(
        /^TLS certificate rejected: https:\/\/127\.0\.0\.1:\d+\/rows\.jsonl \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN); set STORAGE_CA_FILE/,
      );
      expect(row.rows[0].attempts).toBe(1);
    } finally {
      await w.close();
      await plain.close();
    }
  });

  it('refuses a CA file that holds no certificate, naming the variable', async () => {
    await expect(startTestGateway({ STORAGE_CA_FILE: '/etc/hostname' })).rejects.toThrow(
      /STORAGE_CA_FILE: expected a readable file of PEM certificates/,
    );
  });
});
