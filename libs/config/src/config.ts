import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseAzureConnectionString } from './azure-connection-string';
import { parseByteSize, parseJobRetention, parseJobTimeout } from './duration';

/** Every environment variable the gateway reads. The only place that touches `process.env`. */
const bool = (def: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'expected true or false' });
      return z.NEVER;
    });

const int = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return Number(v);
    });

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** A whole number in [min, max], or undefined when the variable is absent or empty. */
const optionalInt = (min: number, max: number) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return Number(v);
  });

const url = (def: string, protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      const value = v === undefined || v === '' ? def : v;
      try {
        const u = new URL(value);
        if (!protocols.includes(u.protocol)) throw new Error('protocol');
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a URL starting with ${protocols.join(' or ')}//` });
        return z.NEVER;
      }
      return value;
    });

const optionalUrl = (protocols: readonly string[]) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new Error('protocol');
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected a URL starting with ${protocols.join(' or ')}//` });
      return z.NEVER;
    }
    return v.replace(/\/+$/, '');
  });

const list = optionalText.transform((v) =>
  v === undefined
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
);

const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: url('postgresql://postgres@127.0.0.1:5432/postgres', ['postgres:', 'postgresql:']),
  TARGET_DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  QUEUE_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 letters, digits, _ . or -')
    .default('igw'),
  PORT: int(19530, 0, 65535),
  HOST: z.string().trim().default('0.0.0.0'),
  GATEWAY_SECRET_KEY: optionalText.refine((v) => v === undefined || decodeSecretKey(v) !== null, {
    message: 'expected 32 bytes as 64 hex digits or base64 (generate one with: openssl rand -hex 32)',
  }),
  GATEWAY_SECRET_KEY_FILE: z.string().trim().default('.gateway/secret.key'),
  GATEWAY_PREVIOUS_SECRET_KEYS: list,
  AUTH_DISABLED: bool(false),
  IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION: int(10_000, 1),
  IMPORT_ADMISSION_BATCH: int(64, 1, 1000),
  API_KEY_CACHE_MS: int(1000, 0, 60_000),
  IMPORT_MAX_FILE_GROUPS: int(1024, 1),
  IMPORT_MAX_PATHS: int(16_384, 1),
  IMPORT_MAX_FILE_BYTES: int(17_179_869_184, 1),
  IMPORT_DEFAULT_TIMEOUT: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ms = parseJobTimeout(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration such as 300s, 1.5h or 1h45m (> 0, ≤ 30 days)' });
      return z.NEVER;
    }
    return { text: v, ms };
  }),
  IMPORT_JOB_RETENTION: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ms = parseJobRetention(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration of at least 24h, such as 30d or 720h' });
      return z.NEVER;
    }
    return ms;
  }),
  IMPORT_BATCH_ROWS: int(10_000, 1, 1_000_000),
  /** About how many bytes of row data one batch holds at most (wide vectors end batches before IMPORT_BATCH_ROWS). */
  IMPORT_BATCH_BYTES: int(33_554_432, 65_536, 1_073_741_824),
  IMPORT_MAX_ATTEMPTS: int(5, 1, 100),
  IMPORT_BUILD_VECTOR_INDEXES: bool(true),
  /** Largest page or value a reader allocates on a file's word (Parquet page and footer sizes, NumPy rows). */
  IMPORT_MAX_PAGE_BYTES: int(268_435_456, 65_536, 2_147_483_647),
  // PostgreSQL pools and sessions (decision 0902). Unset: a default per role (`databaseSettings`).
  DATABASE_POOL_SIZE: optionalInt(1, 10_000),
  DATABASE_POOL_TIMEOUT_MS: optionalInt(100, 3_600_000),
  DATABASE_STATEMENT_TIMEOUT_MS: optionalInt(0, 2_147_483_647),
  DATABASE_LOCK_TIMEOUT_MS: optionalInt(0, 2_147_483_647),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: optionalInt(0, 2_147_483_647),
  WORKER_CONCURRENCY: int(2, 1, 256),
  WORKER_COLLECTION_CONCURRENCY: int(1, 1, 256),
  WORKER_LEASE_MS: int(30_000, 1000),
  WORKER_RECONCILE_INTERVAL_MS: int(5_000, 100),
  // 0 parses on the main thread (still overlapped with COPY); N ≥ 1 runs a pool of N parse threads.
  // Default: the cores left after the main thread and a PostgreSQL backend (decision 0402).
  WORKER_PARSE_THREADS: int(defaultParseThreads(), 0, 256),
  /** Where a worker serves /metrics and /health/*; absent: not served. 0 picks a free port (tests). */
  WORKER_METRICS_PORT: optionalInt(0, 65_535),
  WORKER_METRICS_HOST: z.string().trim().default('0.0.0.0'),
  STORAGE_DEFAULT_URL: optionalText,
  STORAGE_S3_ENDPOINT: optionalUrl(['http:', 'https:']),
  STORAGE_S3_REGION: optionalText,
  STORAGE_S3_FORCE_PATH_STYLE: bool(false),
  STORAGE_S3_ACCESS_KEY: optionalText,
  STORAGE_S3_SECRET_KEY: optionalText,
  STORAGE_GCS_ENDPOINT: optionalUrl(['http:', 'https:']),
  STORAGE_GCS_CREDENTIALS_FILE: optionalText,
  STORAGE_AZURE_ENDPOINT: optionalUrl(['http:', 'https:']),
  STORAGE_AZURE_ACCOUNT: optionalText,
  STORAGE_AZURE_KEY: optionalText,
  STORAGE_AZURE_CONNECTION_STRING: optionalText,
  STORAGE_ALLOW_PRIVATE_NETWORKS: optionalText.transform((v, ctx) => {
    if (v === undefined || /^(false|0|no|off)$/i.test(v)) return { all: false, cidrs: [] as string[] };
    if (/^(true|1|yes|on)$/i.test(v)) return { all: true, cidrs: [] as string[] };
    const cidrs = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = cidrs.find((c) => !CIDR.test(c));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `expected true, false or a comma list of CIDR ranges (bad: ${bad})` });
      return z.NEVER;
    }
    return { all: false, cidrs };
  }),
  STORAGE_ALLOW_HTTP: bool(false),
  STORAGE_ALLOWED_HOSTS: list,
  STORAGE_DENIED_HOSTS: list,
  STORAGE_ALLOWED_BUCKETS: list,
  STORAGE_REQUEST_TIMEOUT_MS: int(30_000, 100),
  STORAGE_READ_TIMEOUT_MS: int(60_000, 100),
  STORAGE_READ_MIN_BYTES_PER_SEC: int(32_768, 0),
  STORAGE_AMBIENT_CREDENTIALS: bool(true),
  STORAGE_CA_FILE: optionalText,
  VOLUMES_DIR: z.string().trim().default('./.gateway/volumes'),
  // A bucket prefix for deployments with many machines; parsed by libs/volumes (provider rules of storage.md §1).
  VOLUMES_URL: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    // S3 / S3-compatible, GCS and Azure have a volume writer (decision 0601); the provider is checked at start.
    if (!/^(s3|gs):\/\/[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](\/|$)/.test(v) && !/^https?:\/\/[^/]+\/[^/]+/.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'expected s3://bucket/prefix/, gs://bucket/prefix/ or an Azure container URL (https://<account>.blob.core.windows.net/<container>/<prefix>/)',
      });
      return z.NEVER;
    }
    return v.endsWith('/') ? v : `${v}/`;
  }),
  VOLUMES_MAX_FILE_BYTES: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
      ctx.addIssue({ code: 'custom', message: 'expected a whole number of bytes ≥ 1' });
      return z.NEVER;
    }
    return Number(v);
  }),
  // Seconds a presigned S3 PUT URL from /v2/volumes/apply lives; 0 = apply answers the gateway's route only.
  VOLUMES_PRESIGN_TTL_SECONDS: int(0, 0, 7 * 24 * 3600),
  COLLECTIONS_PGVECTOR: z.enum(['auto', 'require', 'off']).default('auto'),
  REQUEST_BODY_LIMIT: z
    .string()
    .trim()
    .default('64mb')
    .transform((v, ctx) => {
      const n = parseByteSize(v);
      if (n === null || n < 1) {
        ctx.addIssue({ code: 'custom', message: 'expected a size such as 64mb, 512kb or a number of bytes' });
        return z.NEVER;
      }
      return n;
    }),
  // Webhooks (#15 point 6, decisions 1501–1509): a URL notified of every job's end, besides options.webhook_url.
  WEBHOOK_URL: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('protocol');
      if (u.username !== '' || u.password !== '') {
        ctx.addIssue({
          code: 'custom',
          message: 'must not carry a user name or password (signing uses WEBHOOK_SECRET)',
        });
        return z.NEVER;
      }
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a URL starting with https:// or http://' });
      return z.NEVER;
    }
    return v;
  }),
  /** HMAC-SHA256 key of the X-Gateway-Signature header; absent: deliveries are unsigned. */
  WEBHOOK_SECRET: optionalText.refine((v) => v === undefined || v.length >= 16, {
    message: 'expected at least 16 characters (generate one with: openssl rand -hex 32)',
  }),
  WEBHOOK_MAX_ATTEMPTS: int(8, 1, 100),
  WEBHOOK_RETRY_BASE_MS: int(1_000, 10, 3_600_000),
  WEBHOOK_TIMEOUT_MS: int(10_000, 100, 300_000),
  WEBHOOK_POLL_INTERVAL_MS: int(1_000, 50, 3_600_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  STARTUP_TIMEOUT_MS: int(8_000, 500),
});

type Env = z.output<typeof envSchema>;

/** Names of every environment variable `loadConfig` reads (deployment files are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(envSchema.shape));

/**
 * Parse threads by default: one core stays with the main thread (I/O, cutting, the COPY socket)
 * and one with the PostgreSQL backend taking the COPY; on 2 cores threads only add CPU per row
 * (measured: +30–60 %), so there are none.
 */
export function defaultParseThreads(cores = availableParallelism()): number {
  return Math.max(0, cores - 2);
}

export interface AppConfig {
  env: Env['NODE_ENV'];
  databaseUrl: string;
  targetDatabaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  port: number;
  host: string;
  secretKeys: { current: Buffer; previous: Buffer[]; generated: boolean; file?: string };
  authDisabled: boolean;
  /** API_KEY_CACHE_MS: how long the API reuses a verified key (a revocation is seen within it); 0: every request. */
  apiKeyCacheMs: number;
  import: {
    maxActiveJobsPerCollection: number;
    /** IMPORT_ADMISSION_BATCH: most creates of one collection admitted in one transaction (decision 1102). */
    admissionBatch: number;
    maxFileGroups: number;
    /** Paths (files, URLs, folders) in one create request, over all its groups. */
    maxPaths: number;
    maxFileBytes: number;
    defaultTimeout?: { text: string; ms: number };
    /** IMPORT_JOB_RETENTION: terminal jobs whose end is older are deleted; undefined: kept. */
    jobRetentionMs?: number;
    batchRows: number;
    batchBytes: number;
    maxAttempts: number;
    maxPageBytes: number;
    /** Build the collection's pgvector indexes after a load (the `indexing` phase, decision 1601). */
    buildVectorIndexes: boolean;
  };
  /** PostgreSQL pools and session timeouts as configured; `databaseSettings` applies the role defaults. */
  database: {
    poolSize?: number;
    poolTimeoutMs?: number;
    statementTimeoutMs?: number;
    lockTimeoutMs?: number;
    idleInTransactionTimeoutMs?: number;
  };
  worker: {
    concurrency: number;
    collectionConcurrency: number;
    leaseMs: number;
    reconcileIntervalMs: number;
    /** Parse threads of a worker process, shared by its jobs; 0 = parse on the main thread. */
    parseThreads: number;
    /** The worker's metrics and health listener (WORKER_METRICS_PORT/HOST); undefined: off. */
    metrics?: { port: number; host: string };
  };
  storage: {
    defaultUrl?: string;
    s3: { endpoint?: string; region?: string; forcePathStyle: boolean; accessKey?: string; secretKey?: string };
    gcs: { endpoint?: string; credentialsFile?: string };
    /** `sas`: a SharedAccessSignature from STORAGE_AZURE_CONNECTION_STRING, for `account` only. */
    azure: { endpoint?: string; account?: string; key?: string; sas?: string };
    allowPrivateNetworks: { all: boolean; cidrs: string[] };
    allowHttp: boolean;
    allowedHosts: string[];
    deniedHosts: string[];
    /**
     * Buckets the server's own and ambient credentials are used for (others are read anonymously),
     * besides the bucket of `defaultUrl`: `name`, `prefix-*`, or `s3://name` / `gs://…` /
     * `azure://account/container` (storage.md §4, decision 0106).
     */
    allowedBuckets: string[];
    requestTimeoutMs: number;
    /**
     * Slow-drip guard of one ranged GET's body (storage.md §2, decision 0107): it may spend
     * `readTimeoutMs` plus one second per `readMinBytesPerSec` bytes received waiting for the
     * server; past that the attempt is cut and retried, and a read that stays too slow fails.
     * `readMinBytesPerSec` 0 makes `readTimeoutMs` a flat cap per GET.
     */
    readTimeoutMs: number;
    readMinBytesPerSec: number;
    /** Let the SDKs look for ambient credentials (AWS chain, Google ADC) when none are configured. */
    ambientCredentials: boolean;
    /** Extra trusted CA certificates (PEM) for object-store TLS, e.g. an on-premises MinIO's private CA. */
    caPem?: string;
  };
  /** Where uploaded volumes live (storage.md §7): a local directory unless `url` names a bucket prefix. */
  volumes: { dir: string; url?: string; maxFileBytes: number; presignTtlSeconds: number };
  collections: { pgvector: 'auto' | 'require' | 'off' };
  /**
   * Job-end notifications (decisions 1501–1509): `url` is notified of every job besides a job's
   * own options.webhook_url; deliveries are signed with `secret` when set and retried
   * `maxAttempts` times in all, waiting `retryBaseMs` × 2^(n−1) (≤ 1 h) after attempt n.
   */
  webhooks: {
    url?: string;
    secret?: string;
    maxAttempts: number;
    retryBaseMs: number;
    timeoutMs: number;
    pollIntervalMs: number;
  };
  requestBodyLimit: number;
  logLevel: Env['LOG_LEVEL'];
  startupTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** 32 bytes given as 64 hex digits or base64 (44 chars with padding). */
export function decodeSecretKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === 32) return b;
  }
  return null;
}

/**
 * Azure defaults: STORAGE_AZURE_ACCOUNT / STORAGE_AZURE_KEY, else the AccountName and AccountKey (or
 * SharedAccessSignature) of STORAGE_AZURE_CONNECTION_STRING. Its endpoints are not used (0105).
 */
function azureDefaults(env: Env, problems: string[]): AppConfig['storage']['azure'] {
  const endpoint = env.STORAGE_AZURE_ENDPOINT;
  let account = env.STORAGE_AZURE_ACCOUNT;
  let key = env.STORAGE_AZURE_KEY;
  let sas: string | undefined;
  if (env.STORAGE_AZURE_CONNECTION_STRING !== undefined) {
    const cs = parseAzureConnectionString(env.STORAGE_AZURE_CONNECTION_STRING);
    if (cs?.accountName === undefined) {
      problems.push(
        'STORAGE_AZURE_CONNECTION_STRING: expected AccountName=<account>;AccountKey=<key> (or SharedAccessSignature=<sas>)',
      );
    } else if (account !== undefined && account !== cs.accountName) {
      problems.push('STORAGE_AZURE_CONNECTION_STRING: its AccountName differs from STORAGE_AZURE_ACCOUNT');
    } else {
      account = cs.accountName;
      if (key === undefined) key = cs.accountKey;
      if (key === undefined) sas = cs.sharedAccessSignature;
    }
  }
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(account === undefined ? {} : { account }),
    ...(key === undefined ? {} : { key }),
    ...(sas === undefined ? {} : { sas }),
  };
}

const SECRET_FORM = 'expected 32 bytes as 64 hex digits or base64 (generate one with: openssl rand -hex 32)';

function resolveSecretKeys(env: Env, problems: string[], warn: (msg: string) => void): AppConfig['secretKeys'] {
  const previous: Buffer[] = [];
  env.GATEWAY_PREVIOUS_SECRET_KEYS.forEach((k, i) => {
    const b = decodeSecretKey(k);
    if (b === null) problems.push(`GATEWAY_PREVIOUS_SECRET_KEYS[${i}]: ${SECRET_FORM}`);
    else previous.push(b);
  });
  if (env.GATEWAY_SECRET_KEY !== undefined) {
    // Already validated by the schema.
    return { current: decodeSecretKey(env.GATEWAY_SECRET_KEY) ?? Buffer.alloc(32), previous, generated: false };
  }
  if (env.NODE_ENV === 'production') {
    problems.push(`GATEWAY_SECRET_KEY: required when NODE_ENV=production; ${SECRET_FORM}`);
    return { current: Buffer.alloc(32), previous, generated: false };
  }
  // Development: a key generated once and kept in a local file, so restarts can still decrypt.
  const file = resolve(env.GATEWAY_SECRET_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
    } catch (e) {
      // Another process created it first: read theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(file, 0o600);
  }
  const b = decodeSecretKey(readFileSync(file, 'utf8'));
  if (b === null) {
    problems.push(`GATEWAY_SECRET_KEY_FILE (${file}): ${SECRET_FORM}`);
    return { current: Buffer.alloc(32), previous, generated: true, file };
  }
  warn(
    `GATEWAY_SECRET_KEY is not set: using the development key in ${file}. ` +
      'Set GATEWAY_SECRET_KEY (openssl rand -hex 32) for any shared or production deployment.',
  );
  return { current: b, previous, generated: true, file };
}

export function loadConfig(
  source: NodeJS.ProcessEnv = process.env,
  warn: (msg: string) => void = () => undefined,
): AppConfig {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = i.path.join('.');
        const given = typeof name === 'string' ? source[name] : undefined;
        return `${name}: ${i.message}${given === undefined ? '' : ` (got ${JSON.stringify(redactValue(name, given))})`}`;
      }),
    );
  }
  const env = parsed.data;
  const problems: string[] = [];
  const secretKeys = resolveSecretKeys(env, problems, warn);
  let caPem: string | undefined;
  if (env.STORAGE_CA_FILE !== undefined) {
    try {
      caPem = readFileSync(env.STORAGE_CA_FILE, 'utf8');
      if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate');
    } catch {
      problems.push(
        `STORAGE_CA_FILE: expected a readable file of PEM certificates (got ${JSON.stringify(env.STORAGE_CA_FILE)})`,
      );
    }
  }
  if ((env.STORAGE_S3_ACCESS_KEY === undefined) !== (env.STORAGE_S3_SECRET_KEY === undefined)) {
    problems.push('STORAGE_S3_ACCESS_KEY and STORAGE_S3_SECRET_KEY: set both or neither');
  }
  const azure = azureDefaults(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const serverKeys = [
    env.STORAGE_S3_ACCESS_KEY === undefined ? undefined : 'STORAGE_S3_ACCESS_KEY',
    env.STORAGE_GCS_CREDENTIALS_FILE === undefined ? undefined : 'STORAGE_GCS_CREDENTIALS_FILE',
    azure.key === undefined && azure.sas === undefined ? undefined : 'STORAGE_AZURE_KEY',
  ].filter((v) => v !== undefined);
  if (env.WEBHOOK_URL !== undefined && env.WEBHOOK_SECRET === undefined) {
    warn('WEBHOOK_URL is set without WEBHOOK_SECRET: job notifications are sent unsigned');
  }
  if (serverKeys.length > 0 && env.STORAGE_ALLOWED_BUCKETS.length === 0 && env.STORAGE_DEFAULT_URL === undefined) {
    // Until storage.md §4 changed, an empty list lent these to any bucket; now to none (0106).
    warn(
      `${serverKeys.join(', ')} set, but neither STORAGE_ALLOWED_BUCKETS nor STORAGE_DEFAULT_URL names a bucket: ` +
        'server credentials are used for no bucket (others are read anonymously)',
    );
  }
  return {
    env: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    targetDatabaseUrl: env.TARGET_DATABASE_URL ?? env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    queuePrefix: env.QUEUE_PREFIX,
    port: env.PORT,
    host: env.HOST,
    secretKeys,
    authDisabled: env.AUTH_DISABLED,
    apiKeyCacheMs: env.API_KEY_CACHE_MS,
    import: {
      maxActiveJobsPerCollection: env.IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION,
      admissionBatch: env.IMPORT_ADMISSION_BATCH,
      maxFileGroups: env.IMPORT_MAX_FILE_GROUPS,
      maxPaths: env.IMPORT_MAX_PATHS,
      maxFileBytes: env.IMPORT_MAX_FILE_BYTES,
      ...(env.IMPORT_DEFAULT_TIMEOUT ? { defaultTimeout: env.IMPORT_DEFAULT_TIMEOUT } : {}),
      ...(env.IMPORT_JOB_RETENTION === undefined ? {} : { jobRetentionMs: env.IMPORT_JOB_RETENTION }),
      batchRows: env.IMPORT_BATCH_ROWS,
      batchBytes: env.IMPORT_BATCH_BYTES,
      maxAttempts: env.IMPORT_MAX_ATTEMPTS,
      buildVectorIndexes: env.IMPORT_BUILD_VECTOR_INDEXES,
      maxPageBytes: env.IMPORT_MAX_PAGE_BYTES,
    },
    database: {
      ...(env.DATABASE_POOL_SIZE === undefined ? {} : { poolSize: env.DATABASE_POOL_SIZE }),
      ...(env.DATABASE_POOL_TIMEOUT_MS === undefined ? {} : { poolTimeoutMs: env.DATABASE_POOL_TIMEOUT_MS }),
      ...(env.DATABASE_STATEMENT_TIMEOUT_MS === undefined
        ? {}
        : { statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS }),
      ...(env.DATABASE_LOCK_TIMEOUT_MS === undefined ? {} : { lockTimeoutMs: env.DATABASE_LOCK_TIMEOUT_MS }),
      ...(env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS === undefined
        ? {}
        : { idleInTransactionTimeoutMs: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS }),
    },
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      collectionConcurrency: env.WORKER_COLLECTION_CONCURRENCY,
      leaseMs: env.WORKER_LEASE_MS,
      reconcileIntervalMs: env.WORKER_RECONCILE_INTERVAL_MS,
      parseThreads: env.WORKER_PARSE_THREADS,
      ...(env.WORKER_METRICS_PORT === undefined
        ? {}
        : { metrics: { port: env.WORKER_METRICS_PORT, host: env.WORKER_METRICS_HOST } }),
    },
    storage: {
      defaultUrl: env.STORAGE_DEFAULT_URL,
      s3: {
        endpoint: env.STORAGE_S3_ENDPOINT,
        region: env.STORAGE_S3_REGION,
        forcePathStyle: env.STORAGE_S3_FORCE_PATH_STYLE,
        accessKey: env.STORAGE_S3_ACCESS_KEY,
        secretKey: env.STORAGE_S3_SECRET_KEY,
      },
      gcs: { endpoint: env.STORAGE_GCS_ENDPOINT, credentialsFile: env.STORAGE_GCS_CREDENTIALS_FILE },
      azure,
      allowPrivateNetworks: env.STORAGE_ALLOW_PRIVATE_NETWORKS,
      allowHttp: env.STORAGE_ALLOW_HTTP,
      allowedHosts: env.STORAGE_ALLOWED_HOSTS,
      deniedHosts: env.STORAGE_DENIED_HOSTS,
      allowedBuckets: env.STORAGE_ALLOWED_BUCKETS,
      requestTimeoutMs: env.STORAGE_REQUEST_TIMEOUT_MS,
      readTimeoutMs: env.STORAGE_READ_TIMEOUT_MS,
      readMinBytesPerSec: env.STORAGE_READ_MIN_BYTES_PER_SEC,
      ambientCredentials: env.STORAGE_AMBIENT_CREDENTIALS,
      ...(caPem === undefined ? {} : { caPem }),
    },
    volumes: {
      dir: resolve(env.VOLUMES_DIR),
      ...(env.VOLUMES_URL === undefined ? {} : { url: env.VOLUMES_URL }),
      maxFileBytes: env.VOLUMES_MAX_FILE_BYTES ?? env.IMPORT_MAX_FILE_BYTES,
      presignTtlSeconds: env.VOLUMES_PRESIGN_TTL_SECONDS,
    },
    collections: { pgvector: env.COLLECTIONS_PGVECTOR },
    webhooks: {
      ...(env.WEBHOOK_URL === undefined ? {} : { url: env.WEBHOOK_URL }),
      ...(env.WEBHOOK_SECRET === undefined ? {} : { secret: env.WEBHOOK_SECRET }),
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      pollIntervalMs: env.WEBHOOK_POLL_INTERVAL_MS,
    },
    requestBodyLimit: env.REQUEST_BODY_LIMIT,
    logLevel: env.LOG_LEVEL,
    startupTimeoutMs: env.STARTUP_TIMEOUT_MS,
  };
}

function redactValue(name: string, value: string): string {
  if (/KEY|SECRET|PASSWORD|TOKEN/.test(name)) return '<redacted>';
  if (/_URL$/.test(name)) return redactUrl(value);
  return value;
}

/** A URL safe to print: the password (and any query string) removed. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password !== '') u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/**
 * Loads `.env` from the working directory into process.env when it exists (config.md: "optionally
 * a .env file"). Variables already set in the environment win. Returns the file loaded, if any.
 */
export function loadDotEnv(file = resolve('.env')): string | undefined {
  if (!existsSync(file)) return undefined;
  process.loadEnvFile(file);
  return file;
}

let cached: AppConfig | undefined;

/** Parsed once per process and cached (immich's getEnv pattern). */
export function getConfig(warn?: (msg: string) => void): AppConfig {
  cached ??= loadConfig(process.env, warn);
  return cached;
}

/** Tests only: forget the cached config after changing the environment. */
export function resetConfigCache(): void {
  cached = undefined;
}
