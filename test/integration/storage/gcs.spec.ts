import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openObjectSource,
  parseObjectLocation,
  StorageErrorCode,
  type ObjectStat,
  type StorageConfig,
  type StorageCredentials,
} from '@gw/storage';
import { GcsTestServer } from '../../support/storage/gcs-test-server';
import { bytes, collect, fastDeps, sha256, testStorageConfig, storageFailure } from '../../support/storage/config';

const DATA = bytes(180 * 1024, 31);
const open_ = new GcsTestServer();
const secured = new GcsTestServer('ya29.test-access-token');
let config: StorageConfig;

function open(url: string, creds?: StorageCredentials, cfg = config) {
  const loc = parseObjectLocation(url, cfg);
  return { loc, src: openObjectSource(loc, creds, cfg, fastDeps) };
}

const media = (s: GcsTestServer, name: string) =>
  s.requests.filter((r) => r.query.alt === 'media' && decodeURIComponent(r.path).endsWith(name));

beforeAll(async () => {
  await open_.start();
  await secured.start();
  config = testStorageConfig({ gcs: { endpoint: open_.endpoint } });
  open_.put('pub', 'one/file.bin', DATA);
  for (let i = 0; i < 2500; i++)
    open_.put('pub', `big/part-${String(i).padStart(5, '0')}.parquet`, Buffer.from('PAR1'));
  secured.put('priv', 'x.bin', DATA);
});
afterAll(async () => {
  await open_.stop();
  await secured.stop();
});

describe('GCS driver (@google-cloud/storage, JSON API) against the in-repo GCS server', () => {
  it('stats by generation, reads explicit ranges pinned to that generation, and streams', async () => {
    const { loc, src } = open('gs://pub/one/file.bin');
    const s = await src.stat(loc.key);
    expect(s.size).toBe(DATA.length);
    expect(s.version).toMatch(/^\d+$/);
    expect(Buffer.from(await src.readRange(loc.key, 7, 7007)).equals(DATA.subarray(7, 7007))).toBe(true);
    const last = media(open_, 'one/file.bin').at(-1)!;
    expect(last.range).toBe('bytes=7-7006');
    expect(last.query.generation).toBe(s.version);
    expect(sha256(await collect(src.stream(loc.key, 100)))).toBe(sha256(DATA.subarray(100)));
  });

  it('accepts the storage.googleapis.com URL form served from the configured endpoint', async () => {
    const { loc, src } = open('https://storage.googleapis.com/pub/one/file.bin');
    expect(loc.provider).toBe('gcs');
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
  });

  it('expands a folder of 2,500 objects fully and in key order across pages', async () => {
    const { loc, src } = open('gs://pub/big/');
    const seen: ObjectStat[] = [];
    for await (const s of src.list(loc.key)) seen.push(s);
    expect(seen).toHaveLength(2500);
    const keys = seen.map((s) => s.key);
    expect(keys).toEqual([...keys].sort());
    expect(open_.requests.filter((r) => r.query.prefix === 'big/').length).toBe(3);
  });

  it('resumes a download broken half-way with identical bytes', async () => {
    open_.put('pub', 'reset.bin', DATA);
    const { loc, src } = open('gs://pub/reset.bin');
    await src.stat(loc.key);
    open_.resetAfter = { count: 1, bytes: DATA.length / 2 };
    expect(sha256(await collect(src.stream(loc.key)))).toBe(sha256(DATA));
    expect(media(open_, 'reset.bin')).toHaveLength(2);
  });

  it('succeeds after three 503s', async () => {
    open_.put('pub', 'flaky.bin', DATA);
    const { loc, src } = open('gs://pub/flaky.bin');
    await src.stat(loc.key);
    open_.failNext = { count: 3, status: 503 };
    expect((await src.readRange(loc.key, 0, 64)).length).toBe(64);
    expect(media(open_, 'flaky.bin')).toHaveLength(4);
  });

  it('fails with "object changed during import" when a new generation replaces the object', async () => {
    open_.put('pub', 'changing.bin', DATA);
    const { loc, src } = open('gs://pub/changing.bin');
    await src.stat(loc.key);
    open_.put('pub', 'changing.bin', bytes(DATA.length, 9));
    const err = await storageFailure(src.readRange(loc.key, 0, 10));
    expect(err.message).toBe('object changed during import: gs://pub/changing.bin');
    expect(err.retryable).toBe(false);
  });

  it('maps a missing object to "object not found"', async () => {
    const { loc, src } = open('gs://pub/none.bin');
    const err = await storageFailure(src.stat(loc.key));
    expect(err.code).toBe(StorageErrorCode.NotFound);
    expect(err.message).toBe('object not found: gs://pub/none.bin');
  });

  it('sends a request OAuth token as a bearer token, and a missing one gets "access denied" once', async () => {
    const cfg = testStorageConfig({ gcs: { endpoint: secured.endpoint } });
    const ok = open('gs://priv/x.bin', { token: 'ya29.test-access-token' }, cfg);
    expect((await ok.src.stat(ok.loc.key)).size).toBe(DATA.length);
    expect(secured.requests.at(-1)!.authorization).toBe('Bearer ya29.test-access-token');
    const before = secured.requests.length;
    const anon = open('gs://priv/x.bin', undefined, cfg);
    const err = await storageFailure(anon.src.stat(anon.loc.key));
    expect(err.message).toBe('access denied: gs://priv/x.bin');
    expect(err.retryable).toBe(false);
    expect(secured.requests.length - before).toBe(1);
    expect(secured.requests.at(-1)!.authorization).toBeUndefined();
  });
});
