/**
 * Cost of the resilient read path (guard + retries + pinning + resume bookkeeping) over a bare
 * client, on loopback: plain HTTP stream vs http.get, and S3 driver vs a bare GetObject.
 * Prints ratios (ours / bare); absolute times on a busy 2-core box mean little.
 * Run (no build step for bench/ yet):
 *   JITI_ALIAS="{\"@gw/storage\":\"$PWD/libs/storage/src/index.ts\",\"@gw/errors\":\"$PWD/libs/errors/src/index.ts\",
 *     \"@gw/config\":\"$PWD/libs/config/src/index.ts\"}" npx jiti bench/storage-read.ts  (from the repo root)
 */
import * as http from 'node:http';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { openObjectSource, parseObjectLocation } from '@gw/storage';
import { HttpTestServer } from '../test/support/storage/http-test-server';
import { S3TestServer } from '../test/support/storage/s3-test-server';
import { bytes, testStorageConfig } from '../test/support/storage/config';

const SIZE = 64 * 1024 * 1024;
const ROUNDS = 3;

async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of it) n += c.length;
  return n;
}

async function best(run: () => Promise<number>): Promise<number> {
  await run(); // warm-up: JIT, sockets, first allocation of the server's buffers
  let min = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const t = process.hrtime.bigint();
    const n = await run();
    if (n !== SIZE) throw new Error(`read ${n} bytes, expected ${SIZE}`);
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return min;
}

async function main(): Promise<void> {
  const data = bytes(SIZE, 5);
  const httpServer = new HttpTestServer();
  await httpServer.start();
  httpServer.put('/big.bin', data);
  const s3 = new S3TestServer();
  await s3.start();
  s3.putDirect('bench', 'big.bin', data);
  const config = testStorageConfig({ s3: { endpoint: s3.endpoint, forcePathStyle: true }, requestTimeoutMs: 30_000 });

  const bareHttp = await best(
    () =>
      new Promise<number>((resolve, reject) => {
        http.get(httpServer.url('/big.bin'), (res) => drain(res).then(resolve, reject)).on('error', reject);
      }),
  );
  const httpLoc = parseObjectLocation(httpServer.url('/big.bin'), config);
  const oursHttp = await best(() => drain(openObjectSource(httpLoc, undefined, config).stream(httpLoc.key)));

  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const bareS3 = await best(async () => {
    const r = await client.send(new GetObjectCommand({ Bucket: 'bench', Key: 'big.bin' }));
    return drain(r.Body as AsyncIterable<Uint8Array>);
  });
  const s3Loc = parseObjectLocation('s3://bench/big.bin', config);
  const creds = { accessKey: 'S3RVER', secretKey: 'S3RVER' };
  const oursS3 = await best(() => drain(openObjectSource(s3Loc, creds, config).stream(s3Loc.key)));

  console.log(
    `storage http stream 64MiB   ours/bare = ${(oursHttp / bareHttp).toFixed(2)}   (${oursHttp.toFixed(0)} ms)`,
  );
  console.log(`storage s3 stream 64MiB     ours/bare = ${(oursS3 / bareS3).toFixed(2)}   (${oursS3.toFixed(0)} ms)`);
  client.destroy();
  await httpServer.stop();
  await s3.stop();
}

void main();
