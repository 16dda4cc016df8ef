import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { jsonl, range } from './fixtures';

describe('progress while one large batch is being read', () => {
  let web: HttpTestServer;
  let gw: TestGateway;
  let worker: TestWorker;
  beforeAll(async () => {
    web = new HttpTestServer();
    await web.start();
    // One batch for the whole file: without a timed flush, describe would show 0 until the end.
    gw = await startTestGateway({ IMPORT_BATCH_ROWS: '1000000', WORKER_LEASE_MS: '3000', LOG_LEVEL: 'warn' });
    worker = await startTestWorker(gw.config);
  });
  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    await web?.stop();
  });

  // Since rows reach the COPY in ~4 MiB chunks (the first after 64 rows), imported rows rise early
  // too, so the test no longer asks for progress seen while importedRows is still 0 (that raced the
  // first chunk): a file read as one batch must show progress between 0 and 100 while it runs, rising.
  it('reports progress between 0 and 100 while a file read as one large batch is staged', async () => {
    const key = await gw.apiKey(['admin']);
    const c = uniqueName('prog');
    await call(gw, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: c, dimension: 4 } });
    web.put(`/${c}/big.jsonl`, jsonl(range(1, 600_000)));
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: c, objectUrl: web.url(`/${c}/big.jsonl`) },
    });
    const jobId = (r.body.data as { jobId: string }).jobId;
    const midway: number[] = [];
    for (;;) {
      const d = (await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } })).body.data as {
        gatewayState: string;
        progress: number;
        importedRows: number;
      };
      if (d.gatewayState !== 'Importing' && d.gatewayState !== 'Pending') {
        expect(d.gatewayState).toBe('Completed');
        break;
      }
      if (d.progress > 0 && d.progress < 100) midway.push(d.progress);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(midway.length).toBeGreaterThan(0);
    expect(midway).toEqual([...midway].sort((a, b) => a - b));
  }, 60_000);
});
