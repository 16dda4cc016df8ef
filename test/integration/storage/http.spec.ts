import * as http from 'node:http';
import * as https from 'node:https';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openObjectSource, parseObjectLocation, StorageErrorCode } from '@gw/storage';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { bytes, collect, fastDeps, sha256, testStorageConfig, storageFailure } from '../../support/storage/config';

const config = testStorageConfig();
const server = new HttpTestServer();
const DATA = bytes(256 * 1024, 7);

function open(path: string, over = {}) {
  const loc = parseObjectLocation(server.url(path), config);
  return { loc, src: openObjectSource(loc, undefined, config, { ...fastDeps, ...over }) };
}

function requestsFor(path: string) {
  return server.requests.filter((r) => r.path === path);
}

beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

describe('plain HTTP(S) driver against a local Range server', () => {
  it('stats size and ETag with a one-byte explicit range, never HEAD or a suffix range', async () => {
    server.put('/plain.bin', DATA);
    const { loc, src } = open('/plain.bin');
    const s = await src.stat(loc.key);
    expect(s.size).toBe(DATA.length);
    expect(s.version).toMatch(/^"[0-9a-f]{32}"$/);
    expect(s.rangeReads).toBe(true);
    expect(requestsFor('/plain.bin')).toEqual([{ method: 'GET', path: '/plain.bin', range: 'bytes=0-0' }]);
  });

  it('reads an explicit range and sends If-Match with the version seen at stat', async () => {
    server.put('/range.bin', DATA);
    const { loc, src } = open('/range.bin');
    const s = await src.stat(loc.key);
    const got = await src.readRange(loc.key, 1000, 5000);
    expect(Buffer.from(got).equals(DATA.subarray(1000, 5000))).toBe(true);
    const last = requestsFor('/range.bin').at(-1)!;
    expect(last.range).toBe('bytes=1000-4999');
    expect(last.ifMatch).toBe(s.version);
  });

  it('streams from an offset to the end', async () => {
    server.put('/stream.bin', DATA);
    const { loc, src } = open('/stream.bin');
    const got = await collect(src.stream(loc.key, 100_000));
    expect(sha256(got)).toBe(sha256(DATA.subarray(100_000)));
  });

  it('resumes a read broken half-way (connection reset) and returns identical bytes', async () => {
    server.put('/reset.bin', DATA, { resetAfter: { count: 1, bytes: DATA.length / 2 } });
    const { loc, src } = open('/reset.bin');
    const got = await collect(src.stream(loc.key));
    expect(sha256(got)).toBe(sha256(DATA));
    const reads = requestsFor('/reset.bin').filter((r) => r.range !== 'bytes=0-0');
    expect(reads).toHaveLength(2);
    // The second request starts exactly where the first one's bytes stopped arriving.
    const resumedAt = Number(/^bytes=(\d+)-/.exec(reads[1]!.range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(DATA.length / 2);
    expect(reads[1]!.ifMatch).toBeDefined();
  });

  it('resumes after a body truncated below its Content-Length', async () => {
    server.put('/trunc.bin', DATA, { truncateAfter: { count: 2, bytes: 10_000 } });
    const { loc, src } = open('/trunc.bin');
    const got = await collect(src.stream(loc.key));
    expect(sha256(got)).toBe(sha256(DATA));
  });

  it('succeeds after three 500s in a row', async () => {
    server.put('/flaky.bin', DATA);
    const { loc, src } = open('/flaky.bin');
    await src.stat(loc.key);
    server.faults('/flaky.bin').failNext = { count: 3, status: 500 };
    const got = await src.readRange(loc.key, 0, 4096);
    expect(Buffer.from(got).equals(DATA.subarray(0, 4096))).toBe(true);
    expect(requestsFor('/flaky.bin')).toHaveLength(1 + 4);
  });

  it('retries 429 throttling and 503 on stat', async () => {
    server.put('/throttle.bin', DATA, { failNext: { count: 2, status: 429 } });
    const { loc, src } = open('/throttle.bin');
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
  });

  it('gives up with a retryable error after five retries of persistent 503s', async () => {
    server.put('/down.bin', DATA, { failNext: { count: 100, status: 503 } });
    const { loc, src } = open('/down.bin');
    const err = await storageFailure(src.stat(loc.key));
    expect(err.code).toBe(StorageErrorCode.Transient);
    expect(err.retryable).toBe(true);
    expect(requestsFor('/down.bin')).toHaveLength(6);
  });

  it('fails once with "access denied" on a persistent 403, without retrying', async () => {
    server.put('/denied.bin', DATA, { always: 403 });
    const { loc, src } = open('/denied.bin');
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe(`access denied: ${server.url('/denied.bin')}`);
    expect(err.retryable).toBe(false);
    expect(requestsFor('/denied.bin')).toHaveLength(1);
  });

  it('fails with "object not found" naming the URL without its query', async () => {
    const loc = parseObjectLocation(`${server.url('/missing.bin')}?X-Amz-Signature=secret123`, config);
    const src = openObjectSource(loc, undefined, config, fastDeps);
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe(`object not found: ${server.url('/missing.bin')}`);
    expect(err.message).not.toContain('secret123');
    expect(JSON.stringify(err.details)).not.toContain('secret123');
    expect(err.retryable).toBe(false);
  });

  it('fails clearly when the object is replaced mid-read instead of mixing versions', async () => {
    const replacement = bytes(DATA.length, 99);
    server.put('/replaced.bin', DATA, {
      resetAfter: { count: 1, bytes: 50_000 },
      replaceAfterBytes: { bytes: 50_000, with: replacement },
    });
    const { loc, src } = open('/replaced.bin');
    const err = await storageFailure(collect(src.stream(loc.key)));
    expect(err.code).toBe(StorageErrorCode.ObjectChanged);
    expect(err.message).toBe(`object changed during import: ${server.url('/replaced.bin')}`);
    expect(err.retryable).toBe(false);
  });

  it('detects a change between stat and read even when the server sends no ETag', async () => {
    server.put('/noetag.bin', DATA, { noEtag: true });
    const { loc, src } = open('/noetag.bin');
    await src.stat(loc.key);
    server.put('/noetag.bin', bytes(DATA.length, 3), { noEtag: true });
    // A new Last-Modified second is needed for the server to tell versions apart.
    await new Promise((r) => setTimeout(r, 1100));
    server.put('/noetag.bin', bytes(DATA.length, 4), { noEtag: true });
    const err = await storageFailure(src.readRange(loc.key, 0, 10));
    expect(err.code).toBe(StorageErrorCode.ObjectChanged);
  });

  it('times out a slow first byte and succeeds on the retry', async () => {
    server.put('/slow.bin', DATA, { slowFirstByte: { count: 1, ms: 600 } });
    const { loc, src } = open('/slow.bin', { requestTimeoutMs: 200 });
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    expect(requestsFor('/slow.bin').length).toBe(2);
  });

  it('cuts a slow-drip body at the read deadline, retries from the last byte, then fails naming the file', async () => {
    // 1 byte every 20 ms never trips the 2 s idle timeout; 200 ms + 1 s per 1,000 bytes does.
    const read = { timeoutMs: 200, minBytesPerSec: 1_000 };
    server.put('/drip.bin', DATA, { drip: { count: 100, bytes: 100, step: 1, everyMs: 20 } });
    const { loc, src } = open('/drip.bin', { read, retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    await src.stat(loc.key);
    const before = requestsFor('/drip.bin').length;
    const started = Date.now();
    const err = await storageFailure(collect(src.stream(loc.key)));
    const took = Date.now() - started;
    expect(err.code).toBe(StorageErrorCode.TooSlow);
    expect(err.message).toBe(`storage read too slow: ${server.url('/drip.bin')} (under 1000 bytes/s in 3 attempts)`);
    expect(err.retryable).toBe(false);
    const gets = requestsFor('/drip.bin').slice(before);
    expect(gets).toHaveLength(3);
    // each retry resumes after the bytes already received, pinned to the version seen at stat
    const starts = gets.map((g) => Number(/^bytes=(\d+)-/.exec(g.range ?? '')?.[1]));
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThan(100);
    expect(starts[2]).toBeGreaterThan(starts[1]!);
    expect(gets.slice(1).every((g) => g.ifMatch !== undefined)).toBe(true);
    // each attempt: 100 bytes at once buy 100 ms + 200 ms; the drip adds ~50 bytes/s → ~0.35 s
    expect(took).toBeLessThan(5_000);
  });

  it('lets a body through that is slow but above the throughput floor, and a consumer that is slower than the server', async () => {
    const read = { timeoutMs: 200, minBytesPerSec: 1_000 };
    // 64 KiB in 1 KiB steps every 2 ms (~500 KB/s): well above the floor.
    const small = DATA.subarray(0, 64 * 1024);
    server.put('/steady.bin', Buffer.from(small), { drip: { count: 1, bytes: 1024, step: 1024, everyMs: 2 } });
    const a = open('/steady.bin', { read });
    expect(sha256(await collect(a.src.stream(a.loc.key)))).toBe(sha256(small));
    // A consumer pausing 300 ms per chunk under a flat 200 ms cap: its own time is not charged.
    server.put('/fast.bin', Buffer.from(small));
    const b = open('/fast.bin', { read: { timeoutMs: 200, minBytesPerSec: 0 } });
    const parts: Uint8Array[] = [];
    for await (const c of b.src.stream(b.loc.key)) {
      parts.push(c);
      if (parts.length <= 3) await new Promise((r) => setTimeout(r, 300));
    }
    expect(sha256(Buffer.concat(parts))).toBe(sha256(small));
  });

  describe('signed-URL parameters never reach an error (storage.md §4 secrecy)', () => {
    const SECRETS = ['AKIASECRETCRED', 'f00dsignaturevalue', 'goog-sig-value', 'sas-sig-value', 'sas-se-2030'];
    const QUERY =
      `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${SECRETS[0]}&X-Amz-Signature=${SECRETS[1]}` +
      `&X-Goog-Signature=${SECRETS[2]}&sv=2024-01-01&sig=${SECRETS[3]}&se=${SECRETS[4]}`;
    const renderings = (e: unknown) => [String(e), JSON.stringify(e), inspect(e, { depth: 20, showHidden: true })];
    const expectNoSecret = (e: unknown) => {
      for (const text of renderings(e)) for (const secret of SECRETS) expect(text).not.toContain(secret);
    };
    const openSigned = (path: string) => {
      const loc = parseObjectLocation(server.url(path) + QUERY, config);
      expect(loc.display).toBe(server.url(path));
      return { loc, src: openObjectSource(loc, undefined, config, fastDeps) };
    };

    it.each([
      ['403', '/sig-403.bin', { always: 403 }, 'access denied: '],
      ['404', '/sig-404.bin', undefined, 'object not found: '],
      [
        'persistent 503',
        '/sig-503.bin',
        { failNext: { count: 1000, status: 503 } },
        'storage unavailable (HTTP 503): ',
      ],
    ] as const)('names the URL without its query on a %s', async (_, path, faults, prefix) => {
      if (faults !== undefined) server.put(path, DATA, { ...faults });
      const { loc, src } = openSigned(path);
      const err = await storageFailure(src.stat(loc.key));
      expect(err.message).toBe(`${prefix}${server.url(path)}`);
      expectNoSecret(err);
    });

    it('names the URL without its query when every body is cut after a few bytes, and gives up after the retries', async () => {
      server.put('/sig-reset.bin', DATA, { resetAfter: { count: 1000, bytes: 10 } });
      const { loc, src } = openSigned('/sig-reset.bin');
      await src.stat(loc.key);
      const before = requestsFor('/sig-reset.bin').length;
      const err = await storageFailure(collect(src.stream(loc.key)));
      expect(err.message).toMatch(new RegExp(`^storage unavailable \\([^)]+\\): ${server.url('/sig-reset.bin')}$`));
      // 10 bytes per attempt is no progress worth forgiving: 1 + 5 retries, not 26,000 attempts
      expect(requestsFor('/sig-reset.bin').length - before).toBe(6);
      expectNoSecret(err);
    });

    it('keeps a redirect Location out of errors: too many hops, a refused target, an unparsable one', async () => {
      server.put('/sig-target.bin', DATA);
      const hops = openSigned('/redirect/4/sig-target.bin');
      const tooMany = await storageFailure(hops.src.stat(hops.loc.key));
      expect(tooMany.message).toBe(`too many redirects: ${server.url('/redirect/4/sig-target.bin')}`);
      expectNoSecret(tooMany);

      const strict = testStorageConfig({ allowPrivateNetworks: { all: false, cidrs: ['127.0.0.0/8'] } });
      server.put('/sig-to-private.bin', DATA, { redirectTo: `http://10.1.2.3/x.bin${QUERY}` });
      const refusedLoc = parseObjectLocation(server.url('/sig-to-private.bin') + QUERY, strict);
      const refused = await storageFailure(
        openObjectSource(refusedLoc, undefined, strict, fastDeps).stat(refusedLoc.key),
      );
      expect(refused.message).toBe('object URL host is not allowed: 10.1.2.3');
      expectNoSecret(refused);

      server.put('/sig-bad-location.bin', DATA, { redirectTo: `http://[not-an-address${QUERY}` });
      const bad = openSigned('/sig-bad-location.bin');
      const invalid = await storageFailure(bad.src.stat(bad.loc.key));
      expect(invalid.message).toBe(`invalid redirect: ${server.url('/sig-bad-location.bin')}`);
      expect(invalid.retryable).toBe(false);
      expectNoSecret(invalid);
    });

    it('never echoes the query of a URL refused at create', () => {
      for (const bad of [
        `ftp://h/f.json${QUERY}`,
        `https://user:pw@h.example.com/f.json${QUERY}`,
        `https://h.example.com/folder/${QUERY}`,
        `http://h.example.com/f.json${QUERY}`,
        `https://acct1.blob.core.windows.net/Bad_Container/b${QUERY}`,
        `s3://ab${QUERY}`,
      ]) {
        const cfgNoHttp = testStorageConfig({ allowHttp: false });
        let thrown: unknown;
        try {
          parseObjectLocation(bad, cfgNoHttp);
        } catch (e) {
          thrown = e;
        }
        expect(thrown, bad).toBeDefined();
        expectNoSecret(thrown);
      }
    });
  });

  it('reads a server that ignores Range as one forward stream', async () => {
    server.put('/norange.bin', DATA, { ignoreRange: true });
    const { loc, src } = open('/norange.bin');
    expect(await src.stat(loc.key)).toMatchObject({ size: DATA.length, rangeReads: false });
    const got = await src.readRange(loc.key, 70_000, 70_100);
    expect(Buffer.from(got).equals(DATA.subarray(70_000, 70_100))).toBe(true);
  });

  it('follows up to three redirects and refuses a fourth', async () => {
    server.put('/target.bin', DATA);
    const ok = open('/redirect/3/target.bin');
    expect((await ok.src.stat(ok.loc.key)).size).toBe(DATA.length);
    const tooMany = open('/redirect/4/target.bin');
    const err = await storageFailure(tooMany.src.stat(tooMany.loc.key));
    expect(err.message).toContain('too many redirects');
    expect(err.retryable).toBe(false);
  });

  it('re-checks redirect targets: a redirect to the metadata address is refused without connecting', async () => {
    const strict = testStorageConfig();
    const loc = parseObjectLocation(
      server.url(`/to-absolute/${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`),
      strict,
    );
    const before = server.connections;
    let otherConnects = 0;
    const src = openObjectSource(loc, undefined, strict, {
      ...fastDeps,
      httpRequest: (url, opts) => {
        if (url.hostname !== '127.0.0.1') otherConnects++;
        return url.protocol === 'https:' ? https.request(url, opts) : http.request(url, opts);
      },
    });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('object URL host is not allowed: 169.254.169.254');
    expect(otherConnects).toBe(0);
    expect(server.connections - before).toBeLessThanOrEqual(1);
  });

  it('refuses a plain-HTTP folder URL at parse time', () => {
    expect(() => parseObjectLocation(server.url('/folder/'), config)).toThrow(/unsupported object URL/);
  });

  it('connects a named host only to the address the guard checked (no second lookup)', async () => {
    server.put('/named.bin', DATA);
    const url = server.url('/named.bin').replace('127.0.0.1', 'files.test');
    const loc = parseObjectLocation(url, config);
    const asked: string[] = [];
    const src = openObjectSource(loc, undefined, config, {
      ...fastDeps,
      resolver: async (host) => {
        asked.push(host);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    const got = await src.readRange(loc.key, 0, 1000);
    expect(Buffer.from(got).equals(DATA.subarray(0, 1000))).toBe(true);
    expect(asked.every((h) => h === 'files.test')).toBe(true);
  });

  it.each([
    ['a private address', '10.0.0.1'],
    ['the cloud metadata address', '169.254.169.254'],
    ['an IPv4-mapped loopback address', '::ffff:127.0.0.1'],
  ])('refuses a public-looking host that resolves to %s, sending no request', async (_what, address) => {
    const strict = testStorageConfig({ allowPrivateNetworks: { all: false, cidrs: [] }, allowHttp: false });
    const loc = parseObjectLocation('https://files.example.com/data/f.parquet', strict);
    let requests = 0;
    const src = openObjectSource(loc, undefined, strict, {
      ...fastDeps,
      resolver: async () => [{ address, family: address.includes(':') ? 6 : 4 }],
      httpRequest: () => {
        requests++;
        throw new Error('must not be called');
      },
    });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('object URL host is not allowed: files.example.com');
    expect(err.code).toBe(StorageErrorCode.HostNotAllowed);
    expect(err.retryable).toBe(false);
    expect(requests).toBe(0);
  });
});
