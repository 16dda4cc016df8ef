import dns from 'node:dns';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type TestGateway } from '@gw/testing';
import { installLoopbackTripwire, type LoopbackTripwire } from '../support/loopback-only';
import type { HttpTestServer } from '../support/storage/http-test-server';
import { jobState, newCollection, type ImportStack, startImportStack } from '../integration/worker/harness';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from '../integration/worker/fixtures';
import { reportFigure } from '../reliability/suite';

/**
 * SSRF in every spelling and by redirect (issue 13, the suite), end to end: each URL goes through
 * the API's create route and, when admitted, a real worker in this process (API → job → worker →
 * storage guard). Storage may reach private networks only at 127.0.0.2/32, where the one file
 * server of this test listens; every other loopback, private and metadata address — in decimal,
 * octal, hex, short, IPv4-mapped and trailing-dot spellings, behind a user-info trick, behind a
 * name the test DNS maps to it, or behind a 302 of the allowed server — must be refused at create
 * or end Failed naming the host. Proof that nothing else was tried: the loopback tripwire refuses
 * (and records) any connection or DNS query leaving 127.0.0.0/8, and every connection the process
 * attempted is listed and must go to PostgreSQL, Redis, the API or the file server.
 */

/** The test DNS: names answered from this table; everything else goes to the tripwire (refused). */
const DNS_TABLE: Record<string, string[]> = {
  'private.example.test': ['10.0.0.5'],
  'imds.example.test': ['169.254.169.254'],
  'mixed.example.test': ['93.184.216.34', '192.168.1.10'],
  'mapped.example.test': ['::ffff:169.254.169.254'],
  'loopback.example.test': ['127.0.0.1'],
  'files.example.test': ['127.0.0.2'],
  // cloud storage hosts whose DNS answer was poisoned to metadata / private addresses
  'ssrf-bucket.s3.amazonaws.com': ['169.254.169.254'],
  'ssrfaccount.blob.core.windows.net': ['10.0.0.5'],
  'storage.googleapis.com': ['fd00:ec2::254'],
};

let stack: ImportStack;
let web: HttpTestServer;
let gw: TestGateway;
let key: string;
let tripwire: LoopbackTripwire;
const attempts: string[] = [];
const asked: string[] = [];
let restore: () => void = () => undefined;

beforeAll(async () => {
  tripwire = installLoopbackTripwire();
  // Every connect call of this process (API, worker, clients), before the tripwire judges it:
  // a refused or failed attempt is listed too, not only connections that were made.
  const checkedConnect = Socket.prototype.connect;
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]): Socket {
    let first = args[0];
    if (Array.isArray(first)) first = first[0];
    if (typeof first === 'object' && first !== null) {
      const o = first as { host?: string; port?: number | string; path?: string };
      if (typeof o.path !== 'string') attempts.push(`${o.host ?? 'localhost'}:${String(o.port)}`);
    } else if (typeof first === 'number' || /^\d+$/.test(String(first))) {
      attempts.push(`${typeof args[1] === 'string' ? args[1] : 'localhost'}:${String(first)}`);
    }
    return (checkedConnect as (...a: unknown[]) => Socket).apply(this, args);
  };
  const checkedLookup = dns.promises.lookup;
  (dns.promises as { lookup: unknown }).lookup = (host: string, options?: { all?: boolean }) => {
    asked.push(host);
    const answer = DNS_TABLE[host];
    if (answer === undefined) return (checkedLookup as (h: string, o?: unknown) => Promise<unknown>)(host, options);
    const list = answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    return Promise.resolve(options?.all === true ? list : list[0]);
  };
  restore = () => {
    (dns.promises as { lookup: unknown }).lookup = checkedLookup;
    Socket.prototype.connect = checkedConnect;
    tripwire.uninstall();
  };
  stack = await startImportStack(
    {
      STORAGE_ALLOW_PRIVATE_NETWORKS: '127.0.0.2/32',
      STORAGE_REQUEST_TIMEOUT_MS: '2000',
      WORKER_RECONCILE_INTERVAL_MS: '500',
    },
    '127.0.0.2',
  );
  ({ web, gw, key } = stack);
});
afterAll(async () => {
  await stack?.close();
  restore();
});

interface Outcome {
  url: string;
  /** `refused`: the create answered an error; otherwise the job's terminal state. */
  outcome: 'refused' | 'Failed' | 'Completed';
  code: number;
  reason: string;
}

async function importOf(collection: string, url: string): Promise<Outcome> {
  const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
    key,
    body: { collectionName: collection, files: [[url]] },
  });
  if (r.body.code !== 0) return { url, outcome: 'refused', code: r.body.code, reason: r.body.message ?? '' };
  const jobId = (r.body.data as { jobId: string }).jobId;
  await expect.poll(() => jobState(gw.db, jobId), { timeout: 60_000, interval: 200 }).toMatch(/^(Completed|Failed)$/);
  const row = (
    await gw.db.query<{ state: 'Completed' | 'Failed'; reason: string | null }>(
      `SELECT state, reason FROM import_jobs WHERE job_id = $1`,
      [jobId],
    )
  ).rows[0]!;
  return { url, outcome: row.state, code: 0, reason: row.reason ?? '' };
}

const USER_INFO = 'user info in URLs is not accepted';
/** The refusal's text: `host is not allowed: <host>` for a bare host. */
const refusal = (expected: string) => (expected.includes(' ') ? expected : `host is not allowed: ${expected}`);

/** [URL, host the refusal must name (or the refusal's text)]. */
const SPELLINGS: [string, string][] = [
  ['http://2130706433/data.jsonl', '127.0.0.1'], // decimal
  ['http://0177.0.0.1/data.jsonl', '127.0.0.1'], // octal
  ['http://0x7f.1/data.jsonl', '127.0.0.1'], // hex, short
  ['http://127.1/data.jsonl', '127.0.0.1'], // short
  ['http://0/data.jsonl', '0.0.0.0'],
  ['http://[::1]/data.jsonl', '::1'],
  ['http://[::ffff:127.0.0.1]/data.jsonl', '::ffff:7f00:1'],
  ['http://[::ffff:169.254.169.254]/latest/meta-data.json', '::ffff:a9fe:a9fe'],
  ['http://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/meta-data.json', '::ffff:a9fe:a9fe'],
  ['http://[fd00:ec2::254]/latest/meta-data.json', 'fd00:ec2::254'],
  ['http://[fd20:ce::254]/computeMetadata/v1.json', 'fd20:ce::254'],
  ['http://169.254.170.23/v1/credentials', '169.254.170.23'],
  ['http://2852039166/latest/meta-data.json', '169.254.169.254'], // decimal metadata
  ['http://169.254.169.254./latest/meta-data.json', '169.254.169.254'], // trailing dot
  ['http://10.0.0.5/data.jsonl', '10.0.0.5'],
  ['http://metadata.google.internal./computeMetadata/v1.json', 'metadata.google.internal'],
  ['http://localhost./data.jsonl', 'localhost'],
  // user-info tricks: the host is what follows the last @ (WHATWG), never the address before it
  ['http://a@169.254.169.254@imds.example.test/latest/meta-data.json', USER_INFO],
  ['http://169.254.169.254@private.example.test/data.jsonl', USER_INFO],
  ['http://169.254.169.254:80@127.0.0.2/data.jsonl', USER_INFO],
  // names the test DNS maps to private, metadata, mixed and mapped addresses (trailing dot too)
  ['http://private.example.test./data.jsonl', 'private.example.test'],
  ['http://imds.example.test/latest/meta-data.json', 'imds.example.test'],
  ['http://mixed.example.test/data.jsonl', 'mixed.example.test'],
  ['http://mapped.example.test/data.jsonl', 'mapped.example.test'],
  ['http://loopback.example.test/data.jsonl', 'loopback.example.test'],
  // over TLS: refused before any handshake
  ['https://0x7f.1/data.jsonl', '127.0.0.1'],
  ['https://[::ffff:a9fe:a9fe]/latest/meta-data.json', '::ffff:a9fe:a9fe'],
  ['https://imds.example.test/latest/meta-data.json', 'imds.example.test'],
  // the S3, Azure and GCS drivers behind the same guard
  ['https://ssrf-bucket.s3.amazonaws.com/data.jsonl', 'ssrf-bucket.s3.amazonaws.com'],
  ['https://ssrfaccount.blob.core.windows.net/container/data.jsonl', 'ssrfaccount.blob.core.windows.net'],
  ['gs://ssrf-bucket/data.jsonl', 'storage.googleapis.com'],
];

/** 302 targets served by the allowed file server: [redirect target, host the refusal must name]. */
const REDIRECTS: [string, string][] = [
  ['http://169.254.169.254/latest/meta-data/iam/security-credentials.json', '169.254.169.254'],
  ['http://2852039166/latest/meta-data.json', '169.254.169.254'],
  ['http://[::ffff:a9fe:a9fe]/latest/meta-data.json', '::ffff:a9fe:a9fe'],
  ['http://[fd00:ec2::254]/latest/meta-data.json', 'fd00:ec2::254'],
  ['http://127.1:5432/x.jsonl', '127.0.0.1'], // the job database, one loopback address away
  ['http://imds.example.test/latest/meta-data.json', 'imds.example.test'],
  ['http://private.example.test./data.jsonl', 'private.example.test'],
  ['https://169.254.169.254/latest/meta-data.json', '169.254.169.254'],
];

describe('SSRF end to end (API create → worker → storage guard), nothing leaves 127.0.0.0/8', () => {
  it('refuses every spelling of loopback, private and metadata addresses, directly and by redirect, naming the host', async () => {
    const collection = await newCollection(gw, key, 'ssrf');
    // Controls: the allowed server is reachable, directly, by a name and through a redirect, so a
    // refusal below is the guard's and not a broken path.
    const controls = [
      web.url('/ok-1.jsonl'),
      web.url('/ok-2.jsonl').replace('127.0.0.2', 'files.example.test'),
      web.url(`/to-absolute/${encodeURIComponent(web.url('/ok-3.jsonl'))}`),
    ];
    controls.forEach((_, i) => web.put(`/ok-${i + 1}.jsonl`, jsonl(range(1 + i * 100, 100))));
    for (const url of controls) {
      const o = await importOf(collection, url);
      expect(o, url).toMatchObject({ outcome: 'Completed' });
    }
    const ids = range(1, 100 * controls.length);
    expect((await gw.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`))).rows[0]).toEqual({
      n: ids.length,
      text: expectedDigestInput(ids),
    });

    const served = web.requests.length;
    const cases = [
      ...SPELLINGS.map(([url, host]) => ({ url, host, via: 'direct' })),
      ...REDIRECTS.map(([target, host]) => ({
        url: web.url(`/to-absolute/${encodeURIComponent(target)}`),
        host,
        via: `302 → ${target}`,
      })),
    ];
    const outcomes: Record<string, string> = {};
    for (const c of cases) {
      const o = await importOf(collection, c.url);
      outcomes[c.via === 'direct' ? c.url : c.via] = `${o.outcome}${o.code === 0 ? '' : ` ${o.code}`}: ${o.reason}`;
      expect(o.outcome, `${c.via} ${c.url}: ${o.reason}`).not.toBe('Completed');
      expect(o.reason, `${c.via} ${c.url}`).toContain(refusal(c.host));
    }
    reportFigure('ssrf', { cases: cases.length, outcomes });

    // Only the redirecting paths were asked of the file server; nothing was imported.
    expect(web.requests.slice(served).every((r) => r.path.startsWith('/to-absolute/'))).toBe(true);
    expect((await gw.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`))).rows[0]).toMatchObject({
      n: ids.length,
    });
    // The tripwire: no connection or DNS query outside loopback was even tried, and every
    // connection attempt of the process went to PostgreSQL, Redis, the API or the file server.
    expect(tripwire.refused).toEqual([]);
    const allowedPorts = new Set(
      [gw.config.databaseUrl, gw.config.redisUrl, gw.url, web.origin].map((u) => {
        const p = new URL(u);
        return p.port === '' ? (p.protocol === 'redis:' ? '6379' : '5432') : p.port;
      }),
    );
    const stray = attempts.filter((a) => !allowedPorts.has(a.slice(a.lastIndexOf(':') + 1)));
    expect(stray).toEqual([]);
    // The test DNS was asked only for names of the cases, never for an address spelling.
    expect(asked.filter((h) => !(h in DNS_TABLE) && h !== 'localhost')).toEqual([]);
  }, 600_000);
});
