import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openObjectWriter, parseObjectLocation, type ObjectWriter, type StorageConfig } from '@gw/storage';
import { GcsDriver } from '../../../libs/storage/src/drivers/gcs';
import { gcsWriter } from '../../../libs/storage/src/drivers/gcs-writer';
import { GcsTestServer } from '../../support/storage/gcs-test-server';
import { bytes, fastDeps, testStorageConfig } from '../../support/storage/config';

const server = new GcsTestServer();
let config: StorageConfig;
let writer: ObjectWriter;

beforeAll(async () => {
  await server.start();
  server.createBucket('vols');
  config = testStorageConfig({ gcs: { endpoint: server.endpoint } });
  writer = await openObjectWriter(parseObjectLocation('gs://vols/gw/v1/', config), config, fastDeps);
});
afterAll(async () => {
  writer?.close();
  await server.stop();
});

async function* chunked(data: Buffer, size = 64 * 1024, failAfter?: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < data.length; at += size) {
    if (failAfter !== undefined && at >= failAfter) throw new Error('client went away');
    yield data.subarray(at, at + size);
  }
}

const uploads = (name: string) =>
  server.requests.filter((r) => r.path.startsWith('/upload/') && (r.query.name ?? '').endsWith(name));

describe('GCS volume writer (@google-cloud/storage uploads) against the in-repo GCS server', () => {
  it('writes a body shorter than one chunk as one multipart upload under the prefix', async () => {
    const data = bytes(300 * 1024, 7);
    expect(await writer.put('small/a.bin', chunked(data))).toEqual({ size: data.length });
    expect(server.object('vols', 'gw/v1/small/a.bin')?.equals(data)).toBe(true);
    expect(uploads('small/a.bin').map((r) => `${r.method} ${r.query.uploadType}`)).toEqual(['POST multipart']);
  });

  it('streams a longer body through a resumable session, 8 MiB per request, the object appearing at the end', async () => {
    const data = bytes(20 * 1024 * 1024 + 5, 11);
    expect(await writer.put('big/b.bin', chunked(data))).toEqual({ size: data.length });
    expect(server.object('vols', 'gw/v1/big/b.bin')?.equals(data)).toBe(true);
    const session = [...server.sessions.values()].find((s) => s.name === 'gw/v1/big/b.bin')!;
    expect(session).toMatchObject({ done: true, chunks: 3, bytes: data.length });
  }, 30_000);

  it('leaves no object when the body fails midway, and keeps the body error', async () => {
    const data = bytes(20 * 1024 * 1024, 13);
    await expect(writer.put('big/broken.bin', chunked(data, 64 * 1024, 10 * 1024 * 1024))).rejects.toThrow(
      'client went away',
    );
    expect(server.object('vols', 'gw/v1/big/broken.bin')).toBeUndefined();
    const session = [...server.sessions.values()].find((s) => s.name === 'gw/v1/big/broken.bin');
    // A session was opened (and may hold the first chunk); the request declaring the total never came.
    expect(session).toMatchObject({ done: false });
    expect(session!.bytes).toBeLessThan(data.length);
    await expect(writer.put('small/broken.bin', chunked(bytes(1 << 20, 1), 64 * 1024, 512 * 1024))).rejects.toThrow(
      'client went away',
    );
    expect(server.object('vols', 'gw/v1/small/broken.bin')).toBeUndefined();
  }, 30_000);

  it('the test server also takes a plain media upload, as GCS does', async () => {
    const r = await fetch(`${server.endpoint}/upload/storage/v1/b/vols/o?uploadType=media&name=m%2Fone.bin`, {
      method: 'POST',
      body: Buffer.from('media'),
    });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { name: string; size: string }).size).toBe('5');
    expect(server.object('vols', 'm/one.bin')?.toString()).toBe('media');
  });

  it('deletes one object (false when absent) and everything under a prefix, nothing outside it', async () => {
    server.put('vols', 'gw/v1/d/x.bin', Buffer.from('x'));
    server.put('vols', 'gw/v1/d/sub/y.bin', Buffer.from('y'));
    server.put('vols', 'gw/v1/e.bin', Buffer.from('e'));
    server.put('vols', 'gw/v2/d/x.bin', Buffer.from('other volume'));
    expect(await writer.delete('e.bin')).toBe(true);
    expect(await writer.delete('e.bin')).toBe(false);
    await writer.deletePrefix('d/');
    expect(server.names('vols').filter((n) => n.includes('/d/') || n === 'gw/v1/e.bin')).toEqual(['gw/v2/d/x.bin']);
    await writer.deletePrefix('');
    expect(server.names('vols').filter((n) => n.startsWith('gw/'))).toEqual(['gw/v2/d/x.bin']);
  });

  it('authenticates every upload request to a custom endpoint that demands a token, resumable ones too', async () => {
    // An access token stands in for STORAGE_GCS_CREDENTIALS_FILE (whose token needs Google's token
    // endpoint, see gcs-credentials.spec.ts): both make the SDK authenticate to a custom endpoint,
    // which its resumable uploads forget to do on their own.
    const secured = new GcsTestServer('ya29.volume-writer-token');
    await secured.start();
    try {
      secured.createBucket('vols');
      const driver = new GcsDriver({
        bucket: 'vols',
        endpoint: secured.endpoint,
        credential: { accessToken: 'ya29.volume-writer-token' },
        display: (key) => `gs://vols/${key}`,
      });
      const w = gcsWriter(driver, 'gw/');
      const big = bytes(9 * 1024 * 1024, 17);
      expect(await w.put('big.bin', chunked(big))).toEqual({ size: big.length });
      expect(await w.put('small.bin', chunked(bytes(10, 3)))).toEqual({ size: 10 });
      expect(secured.object('vols', 'gw/big.bin')?.equals(big)).toBe(true);
      const sent = secured.requests.map((r) => `${r.method} ${r.query.uploadType} ${r.authorization ?? 'none'}`);
      expect(sent.length).toBeGreaterThanOrEqual(4); // session, two chunks, one multipart
      expect(
        sent.every((x) => x.endsWith('Bearer ya29.volume-writer-token')),
        sent.join('\n'),
      ).toBe(true);
    } finally {
      await secured.stop();
    }
  });
});
