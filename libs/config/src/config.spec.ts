import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, defaultParseThreads, loadConfig, loadDotEnv } from './config';

const KEY = 'a'.repeat(64);

function problems(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults the storage read budget and warns when server storage credentials are lent to no bucket', () => {
    const c = loadConfig({ GATEWAY_SECRET_KEY: KEY });
    expect(c.storage).toMatchObject({ readTimeoutMs: 60_000, readMinBytesPerSec: 32_768, allowedBuckets: [] });
    expect(problems({ GATEWAY_SECRET_KEY: KEY, STORAGE_READ_TIMEOUT_MS: '50' })[0]).toMatch(
      /^STORAGE_READ_TIMEOUT_MS:/,
    );
    const keys = { GATEWAY_SECRET_KEY: KEY, STORAGE_S3_ACCESS_KEY: 'AK', STORAGE_S3_SECRET_KEY: 'SECRETVALUE' };
    const warned = (env: NodeJS.ProcessEnv) => {
      const w: string[] = [];
      loadConfig(env, (m) => w.push(m));
      return w;
    };
    const w = warned(keys);
    expect(w).toEqual([
      'STORAGE_S3_ACCESS_KEY set, but neither STORAGE_ALLOWED_BUCKETS nor STORAGE_DEFAULT_URL names a bucket: ' +
        'server credentials are used for no bucket (others are read anonymously)',
    ]);
    expect(w.join()).not.toContain('SECRETVALUE');
    expect(warned({ ...keys, STORAGE_ALLOWED_BUCKETS: 'imports-*' })).toEqual([]);
    expect(warned({ ...keys, STORAGE_DEFAULT_URL: 's3://milvus-bucket/' })).toEqual([]);
  });

  it('applies the documented defaults', () => {
    const c = loadConfig({ GATEWAY_SECRET_KEY: KEY });
    expect(c.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/postgres');
    expect(c.targetDatabaseUrl).toBe(c.databaseUrl);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.queuePrefix).toBe('igw');
    expect(c.port).toBe(19530);
    expect(c.import.maxActiveJobsPerCollection).toBe(10_000);
    expect(c.import.maxFileGroups).toBe(1024);
    expect(c.import.maxFileBytes).toBe(17_179_869_184);
    expect(c.import.batchBytes).toBe(33_554_432);
    expect(c.worker).toMatchObject({ concurrency: 2, collectionConcurrency: 1 });
    expect(c.requestBodyLimit).toBe(64 * 1024 * 1024);
    expect(c.collections.pgvector).toBe('auto');
    expect(c.storage.allowPrivateNetworks).toEqual({ all: false, cidrs: [] });
    expect(c.authDisabled).toBe(false);
    expect(c.logLevel).toBe('info');
    expect(c.import.admissionBatch).toBe(64);
    expect(c.apiKeyCacheMs).toBe(1000);
  });

  it('reads IMPORT_ADMISSION_BATCH (1–1000) and API_KEY_CACHE_MS (0–60000)', () => {
    const c = loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_ADMISSION_BATCH: '1', API_KEY_CACHE_MS: '0' });
    expect(c.import.admissionBatch).toBe(1);
    expect(c.apiKeyCacheMs).toBe(0);
    const p = problems({ GATEWAY_SECRET_KEY: KEY, IMPORT_ADMISSION_BATCH: '0', API_KEY_CACHE_MS: '600000' });
    expect(p.some((x) => x.startsWith('IMPORT_ADMISSION_BATCH:'))).toBe(true);
    expect(p.some((x) => x.startsWith('API_KEY_CACHE_MS:'))).toBe(true);
  });

  it('defaults WORKER_PARSE_THREADS to the cores beyond the main thread and PostgreSQL, and takes 0 as parsing on the main thread', () => {
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY }).worker.parseThreads).toBe(Math.max(0, availableParallelism() - 2));
    expect([1, 2, 3, 4, 16].map((n) => defaultParseThreads(n))).toEqual([0, 0, 1, 2, 14]);
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, WORKER_PARSE_THREADS: '0' }).worker.parseThreads).toBe(0);
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, WORKER_PARSE_THREADS: '3' }).worker.parseThreads).toBe(3);
    expect(problems({ GATEWAY_SECRET_KEY: KEY, WORKER_PARSE_THREADS: '-1' })).toEqual([
      'WORKER_PARSE_THREADS: expected a whole number from 0 to 256 (got "-1")',
    ]);
  });

  it('serves worker metrics only when WORKER_METRICS_PORT is set, on WORKER_METRICS_HOST', () => {
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY }).worker.metrics).toBeUndefined();
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, WORKER_METRICS_PORT: '9464' }).worker.metrics).toEqual({
      port: 9464,
      host: '0.0.0.0',
    });
    expect(
      loadConfig({ GATEWAY_SECRET_KEY: KEY, WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' }).worker
        .metrics,
    ).toEqual({ port: 0, host: '127.0.0.1' });
    expect(problems({ GATEWAY_SECRET_KEY: KEY, WORKER_METRICS_PORT: '70000' })).toEqual([
      'WORKER_METRICS_PORT: expected a whole number from 0 to 65535 (got "70000")',
    ]);
  });

  it('reads IMPORT_JOB_RETENTION as days or a duration of at least 24 h (the idempotency window)', () => {
    const day = 24 * 3_600_000;
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY }).import.jobRetentionMs).toBeUndefined();
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_JOB_RETENTION: '30d' }).import.jobRetentionMs).toBe(30 * day);
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_JOB_RETENTION: '36h' }).import.jobRetentionMs).toBe(1.5 * day);
    expect(problems({ GATEWAY_SECRET_KEY: KEY, IMPORT_JOB_RETENTION: '12h' })).toEqual([
      'IMPORT_JOB_RETENTION: expected a duration of at least 24h, such as 30d or 720h (got "12h")',
    ]);
  });

  it('names every invalid variable and the expected form at once', () => {
    const p = problems({ PORT: 'abc', REDIS_URL: 'http://x', AUTH_DISABLED: 'maybe', GATEWAY_SECRET_KEY: KEY });
    expect(p).toHaveLength(3);
    expect(p.find((x) => x.startsWith('PORT:'))).toContain('expected a whole number from 0 to 65535');
    expect(p.find((x) => x.startsWith('REDIS_URL:'))).toContain('expected a URL starting with redis: or rediss:');
    expect(p.find((x) => x.startsWith('AUTH_DISABLED:'))).toContain('expected true or false');
  });

  it('never echoes a secret or a database password in a config error', () => {
    const p = problems({ GATEWAY_SECRET_KEY: 'hunter2', DATABASE_URL: 'mysql://u:pw@h/db' });
    const text = p.join('\n');
    expect(text).toContain('GATEWAY_SECRET_KEY');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('DATABASE_URL');
    expect(text).not.toContain(':pw@');
  });

  it('reads IMPORT_BATCH_BYTES and refuses a bound too small to hold a row of a wide vector', () => {
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_BATCH_BYTES: '1048576' }).import.batchBytes).toBe(1_048_576);
    expect(problems({ GATEWAY_SECRET_KEY: KEY, IMPORT_BATCH_BYTES: '1000' })[0]).toMatch(/^IMPORT_BATCH_BYTES: /);
  });

  it('reads IMPORT_MAX_PAGE_BYTES (256 MiB by default) and refuses a limit below 64 KiB or past 2 GiB', () => {
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY }).import.maxPageBytes).toBe(268_435_456);
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_MAX_PAGE_BYTES: '1048576' }).import.maxPageBytes).toBe(
      1_048_576,
    );
    expect(problems({ GATEWAY_SECRET_KEY: KEY, IMPORT_MAX_PAGE_BYTES: '1000' })[0]).toMatch(/^IMPORT_MAX_PAGE_BYTES: /);
    expect(problems({ GATEWAY_SECRET_KEY: KEY, IMPORT_MAX_PAGE_BYTES: '4294967296' })[0]).toMatch(
      /^IMPORT_MAX_PAGE_BYTES: /,
    );
  });

  it('requires GATEWAY_SECRET_KEY in production', () => {
    expect(problems({ NODE_ENV: 'production' })[0]).toMatch(/^GATEWAY_SECRET_KEY: required when NODE_ENV=production/);
  });

  it('accepts a base64 secret key', () => {
    const b64 = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ GATEWAY_SECRET_KEY: b64 }).secretKeys.current).toEqual(Buffer.alloc(32, 7));
  });

  it('generates a development key once, in a private file, with a warning', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'igw-key-')), 'k', 'secret.key');
    const warnings: string[] = [];
    const a = loadConfig({ GATEWAY_SECRET_KEY_FILE: file }, (w) => warnings.push(w));
    const b = loadConfig({ GATEWAY_SECRET_KEY_FILE: file });
    expect(a.secretKeys.generated).toBe(true);
    expect(a.secretKeys.current.equals(b.secretKeys.current)).toBe(true);
    expect(readFileSync(file, 'utf8').trim()).toBe(a.secretKeys.current.toString('hex'));
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(warnings[0]).toContain('GATEWAY_SECRET_KEY is not set');
  });

  it('reads private-network exemptions as CIDR ranges and refuses other text', () => {
    expect(
      loadConfig({ GATEWAY_SECRET_KEY: KEY, STORAGE_ALLOW_PRIVATE_NETWORKS: '10.1.0.0/16, 192.168.5.0/24' }).storage
        .allowPrivateNetworks,
    ).toEqual({ all: false, cidrs: ['10.1.0.0/16', '192.168.5.0/24'] });
    expect(problems({ GATEWAY_SECRET_KEY: KEY, STORAGE_ALLOW_PRIVATE_NETWORKS: 'sometimes' })[0]).toContain(
      'STORAGE_ALLOW_PRIVATE_NETWORKS',
    );
  });

  it('parses IMPORT_DEFAULT_TIMEOUT with the job timeout grammar', () => {
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_DEFAULT_TIMEOUT: '1h45' }).import.defaultTimeout).toEqual({
      text: '1h45',
      ms: 6_300_000,
    });
    expect(problems({ GATEWAY_SECRET_KEY: KEY, IMPORT_DEFAULT_TIMEOUT: 'soon' })[0]).toContain(
      'IMPORT_DEFAULT_TIMEOUT',
    );
  });
});

describe('VOLUMES_* (storage.md §7)', () => {
  it('defaults to ./.gateway/volumes, resolved, with the import file limit', () => {
    const c = loadConfig({ GATEWAY_SECRET_KEY: KEY, IMPORT_MAX_FILE_BYTES: '1000' });
    expect(c.volumes).toEqual({
      dir: join(process.cwd(), '.gateway', 'volumes'),
      maxFileBytes: 1000,
      presignTtlSeconds: 0,
    });
  });

  it('takes an S3, GCS or Azure bucket prefix (with a trailing /) and its own file limit', () => {
    const c = loadConfig({ GATEWAY_SECRET_KEY: KEY, VOLUMES_URL: 's3://bkt/vols', VOLUMES_MAX_FILE_BYTES: '5' });
    expect(c.volumes).toMatchObject({ url: 's3://bkt/vols/', maxFileBytes: 5 });
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, VOLUMES_URL: 'gs://bkt/vols' }).volumes.url).toBe('gs://bkt/vols/');
    const az = 'https://acct.blob.core.windows.net/vols/prefix/';
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY, VOLUMES_URL: az }).volumes.url).toBe(az);
  });

  it('refuses other URLs and limits that are not a positive number of bytes', () => {
    expect(problems({ GATEWAY_SECRET_KEY: KEY, VOLUMES_URL: 'file:///srv/vols/' })).toEqual([
      expect.stringMatching(
        /^VOLUMES_URL: expected s3:\/\/bucket\/prefix\/, gs:\/\/bucket\/prefix\/ or an Azure container URL/,
      ),
    ]);
    expect(problems({ GATEWAY_SECRET_KEY: KEY, VOLUMES_MAX_FILE_BYTES: '0' })).toEqual([
      expect.stringMatching(/^VOLUMES_MAX_FILE_BYTES: expected a whole number of bytes/),
    ]);
  });
});

describe('loadDotEnv', () => {
  it('loads a .env file without overriding variables already in the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'igw-env-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'IGW_TEST_DOTENV_A=from-file\nIGW_TEST_DOTENV_B=from-file\n');
    process.env.IGW_TEST_DOTENV_A = 'from-env';
    try {
      expect(loadDotEnv(file)).toBe(file);
      expect(process.env.IGW_TEST_DOTENV_A).toBe('from-env');
      expect(process.env.IGW_TEST_DOTENV_B).toBe('from-file');
      expect(loadDotEnv(join(dir, 'missing.env'))).toBeUndefined();
    } finally {
      delete process.env.IGW_TEST_DOTENV_A;
      delete process.env.IGW_TEST_DOTENV_B;
    }
  });
});

describe('CONFIG_VARIABLES', () => {
  it('lists exactly the variables loadConfig reads, so deployment files can be checked against it', () => {
    expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(['DATABASE_URL', 'STORAGE_DEFAULT_URL', 'LOG_LEVEL']));
    expect(CONFIG_VARIABLES).not.toContain('IMPORT_GATEWAY_URL'); // the CLI's, not the services'
    // Every listed name is validated: a bad value for it is reported under its own name.
    expect(problems({ GATEWAY_SECRET_KEY: KEY, WORKER_CONCURRENCY: 'many' })[0]).toMatch(/^WORKER_CONCURRENCY:/);
    expect(new Set(CONFIG_VARIABLES).size).toBe(CONFIG_VARIABLES.length);
  });
});

describe('webhook settings', () => {
  it('defaults to no global URL, unsigned, 8 attempts from 1 s, 10 s timeout, 1 s poll', () => {
    expect(loadConfig({ GATEWAY_SECRET_KEY: KEY }).webhooks).toEqual({
      maxAttempts: 8,
      retryBaseMs: 1_000,
      timeoutMs: 10_000,
      pollIntervalMs: 1_000,
    });
  });

  it('reads WEBHOOK_* and warns when the global URL would be notified unsigned', () => {
    const w: string[] = [];
    const c = loadConfig(
      {
        GATEWAY_SECRET_KEY: KEY,
        WEBHOOK_URL: 'https://hooks.example.com/igw?token=abc',
        WEBHOOK_MAX_ATTEMPTS: '3',
        WEBHOOK_RETRY_BASE_MS: '50',
        WEBHOOK_TIMEOUT_MS: '2000',
        WEBHOOK_POLL_INTERVAL_MS: '100',
      },
      (m) => w.push(m),
    );
    expect(c.webhooks).toEqual({
      url: 'https://hooks.example.com/igw?token=abc',
      maxAttempts: 3,
      retryBaseMs: 50,
      timeoutMs: 2_000,
      pollIntervalMs: 100,
    });
    expect(w).toEqual(['WEBHOOK_URL is set without WEBHOOK_SECRET: job notifications are sent unsigned']);
    const signed = loadConfig({
      GATEWAY_SECRET_KEY: KEY,
      WEBHOOK_URL: 'https://hooks.example.com/',
      WEBHOOK_SECRET: 'whsec-0123456789abcdef',
    });
    expect(signed.webhooks.secret).toBe('whsec-0123456789abcdef');
  });

  it('refuses a malformed URL, credentials in it, a short secret and zero attempts, never echoing the secret', () => {
    expect(problems({ GATEWAY_SECRET_KEY: KEY, WEBHOOK_URL: 'ftp://x.example.com/' })[0]).toMatch(
      /^WEBHOOK_URL: expected a URL/,
    );
    expect(problems({ GATEWAY_SECRET_KEY: KEY, WEBHOOK_URL: 'https://u:p@x.example.com/' })[0]).toMatch(
      /^WEBHOOK_URL: must not carry a user name or password/,
    );
    const short = problems({ GATEWAY_SECRET_KEY: KEY, WEBHOOK_SECRET: 'tooshort' });
    expect(short[0]).toMatch(/^WEBHOOK_SECRET: expected at least 16 characters/);
    expect(short.join()).not.toContain('tooshort');
    expect(problems({ GATEWAY_SECRET_KEY: KEY, WEBHOOK_MAX_ATTEMPTS: '0' })[0]).toMatch(/^WEBHOOK_MAX_ATTEMPTS:/);
  });
});
