import { Writable } from 'node:stream';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Pool } from 'pg';
import { ApiModule } from '../../apps/api/src/api.module';
import { tuneHttpServer } from '../../apps/api/src/http/http-server';
import { type AppConfig, loadConfig } from '@gw/config';
import { ApiKeysRepository, migrate, type Scope } from '@gw/db';
import { createRootLogger, PinoNestLogger } from '@gw/logger';
import { createScratchDatabase, queuePrefixFor, testEnv } from './index';

export interface TestGateway {
  url: string;
  /** The Nest application (route enumeration in test/security). */
  app: NestExpressApplication;
  config: AppConfig;
  /** Every log line the API wrote, as text (for secret scans). */
  logs: () => string;
  /** A pool on the job database, for assertions. */
  db: Pool;
  apiKey: (scopes: readonly Scope[], limits?: { databases?: string[]; collections?: string[] }) => Promise<string>;
  close: () => Promise<void>;
}

/**
 * The API in this process, on a free loopback port, with this run's Redis prefix and a database
 * of its own (migrated), so workers started by other test files never see its jobs. Pass
 * DATABASE_URL to share one (two API instances against one database).
 */
export async function startTestGateway(env: NodeJS.ProcessEnv = {}): Promise<TestGateway> {
  const t = testEnv();
  let scratch: { url: string; drop: () => Promise<void> } | undefined;
  if (env.DATABASE_URL === undefined) {
    scratch = await createScratchDatabase();
    await migrate(scratch.url);
  }
  const databaseUrl = scratch?.url ?? env.DATABASE_URL ?? t.databaseUrl;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: t.redisUrl,
    QUEUE_PREFIX: queuePrefixFor(databaseUrl),
    GATEWAY_SECRET_KEY: process.env.GATEWAY_SECRET_KEY,
    LOG_LEVEL: 'debug',
    STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
    STORAGE_ALLOW_HTTP: 'true',
    STORAGE_AMBIENT_CREDENTIALS: 'false',
    ...env,
  });
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString();
      cb();
    },
  });
  const rootLogger = createRootLogger(config.logLevel, sink);
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, rootLogger), {
    logger: new PinoNestLogger(rootLogger),
    bodyParser: false,
    abortOnError: false,
  });
  app.disable('x-powered-by');
  tuneHttpServer(app.getHttpServer());
  await app.listen(0, '127.0.0.1');
  const addr = app.getHttpServer().address() as { port: number };
  const db = new Pool({ connectionString: config.databaseUrl, max: 4 });
  db.on('error', () => undefined); // idle clients die when a scratch database is dropped
  const keys = new ApiKeysRepository(db);
  return {
    url: `http://127.0.0.1:${addr.port}`,
    app,
    config,
    logs: () => logText,
    db,
    apiKey: async (scopes, limits = {}) => (await keys.create({ name: 'test', scopes, ...limits })).key,
    close: async () => {
      await app.close();
      await db.end();
      await scratch?.drop();
    },
  };
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: { code: number; message?: string; data?: unknown } & Record<string, unknown>;
  text: string;
}

/** One HTTP call; `body` is sent as given (string) or as JSON. */
export async function call(
  gw: Pick<TestGateway, 'url'>,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key !== undefined) headers.Authorization = `Bearer ${opts.key}`;
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let body: CallResult['body'];
  try {
    body = JSON.parse(text) as CallResult['body'];
  } catch {
    body = { code: -1, message: text };
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** A request `fetch` refuses to send: GET with a JSON body (the Zilliz guide's getProgress). */
export async function callRaw(
  gw: Pick<TestGateway, 'url'>,
  method: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  const { request } = await import('node:http');
  const u = new URL(`${gw.url}${path}`);
  return new Promise((ok, fail) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: { ...headers, 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
          ok({ status: res.statusCode ?? 0, headers: h, body: JSON.parse(text) as CallResult['body'], text });
        });
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}
