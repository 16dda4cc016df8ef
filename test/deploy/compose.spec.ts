import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { CONFIG_VARIABLES } from '@gw/config';

/**
 * Docker cannot run here, so docker-compose.yml is checked as text against what `docker compose
 * up` needs: pinned images, health checks the dependants wait on, and gateway variables that
 * libs/config actually reads (a misspelt name would be silently ignored by the process).
 */
const root = resolve(__dirname, '..', '..');
const composeText = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');
const envExample = readFileSync(resolve(root, '.env.example'), 'utf8');
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');

const dependsOn = z.record(
  z.string(),
  z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) }),
);
const service = z.object({
  image: z.string().optional(),
  build: z.unknown().optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  healthcheck: z.object({ test: z.array(z.string()).min(2) }).optional(),
  depends_on: dependsOn.optional(),
  ports: z.array(z.string()).optional(),
});
const compose = z.object({ services: z.record(z.string(), service) }).parse(parse(composeText, { merge: true }));
const services = compose.services;

/** The values of `.env.example`, as compose reads them from `.env`. */
const exampleEnv = new Map(
  envExample
    .split('\n')
    .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
);

/** Compose interpolation: `${X}`, `${X:-default}`, `${X:?error}` from `.env.example`, then the default. */
function interpolate(text: string): string {
  return text.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?::?([-?])([^}]*))?\}/g,
    (_m, name: string, op?: string, arg?: string) => {
      const v = exampleEnv.get(name);
      if (v !== undefined && v !== '') return v;
      if (op === '-') return arg ?? '';
      return `<${name}>`;
    },
  );
}

/** A tag that names a release (has a `major.minor`), or a digest: never `latest`, `7-alpine`, `pg15`. */
function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const slash = image.lastIndexOf('/');
  const colon = image.indexOf(':', slash + 1);
  if (colon < 0) return false;
  const tag = image.slice(colon + 1);
  return tag !== 'latest' && /\d+\.\d+/.test(tag);
}

const gatewayServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
/** One-shot services (others wait for them to complete) have no health check to wait on. */
const oneShot = new Set(
  Object.values(services).flatMap((s) =>
    Object.entries(s.depends_on ?? {})
      .filter(([, d]) => d.condition === 'service_completed_successfully')
      .map(([name]) => name),
  ),
);

describe('docker-compose.yml', () => {
  it('pins every image to a release tag or digest, never latest or a floating major', () => {
    expect(isPinned('redis:7-alpine')).toBe(false);
    expect(isPinned('minio/minio:latest')).toBe(false);
    expect(isPinned('pgvector/pgvector:pg15')).toBe(false);
    expect(isPinned('localhost:5000/x')).toBe(false);
    const images = Object.entries(services).filter(([, s]) => s.build === undefined);
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const [name, s] of images) {
      expect(s.image, name).toBeDefined();
      expect(isPinned(s.image ?? ''), `${name}: ${s.image ?? ''}`).toBe(true);
    }
  });

  it('uses no minio/minio image (no longer published) and pins the Dockerfile base images too', () => {
    expect(composeText).not.toMatch(/image:\s*minio\/minio/);
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1] ?? '');
    expect(froms.length).toBeGreaterThan(0);
    for (const f of froms) expect(isPinned(f), f).toBe(true);
  });

  it('gives every long-running service a health check, and waits on conditions that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!oneShot.has(name)) expect(s.healthcheck, `${name} has no healthcheck`).toBeDefined();
      for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
        const target = services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        expect(d.condition, `${name} → ${dep}`).not.toBe('service_started');
        if (d.condition === 'service_healthy') expect(target?.healthcheck, `${dep} has no healthcheck`).toBeDefined();
      }
    }
    for (const [name, s] of gatewayServices) {
      expect(Object.keys(s.depends_on ?? {}).sort(), name).toEqual(expect.arrayContaining(['postgres', 'redis']));
    }
  });

  it('sets on the gateway services only variables that libs/config reads', () => {
    expect(gatewayServices.map(([n]) => n).sort()).toEqual(['api', 'worker']);
    expect(CONFIG_VARIABLES).toContain('DATABASE_URL');
    for (const [name, s] of gatewayServices) {
      const unknown = Object.keys(s.environment ?? {}).filter((k) => !CONFIG_VARIABLES.includes(k));
      expect(unknown, `${name} sets variables libs/config does not know`).toEqual([]);
    }
  });

  it('resolves relative files against the bucket the init service creates, on the compose S3 endpoint', () => {
    const env = services.api?.environment ?? {};
    const defaultUrl = interpolate(String(env.STORAGE_DEFAULT_URL));
    const bucket = /^s3:\/\/([^/]+)\/$/.exec(defaultUrl)?.[1];
    expect(bucket, defaultUrl).toBe('milvus-bucket');
    const init = interpolate(composeText.slice(composeText.indexOf('s3-init:'), composeText.indexOf('\n  api:')));
    expect(init).toContain(`s3.bucket.create -name ${bucket ?? ''}`);
    const endpoint = new URL(interpolate(String(env.STORAGE_S3_ENDPOINT)));
    expect(services[endpoint.hostname], endpoint.hostname).toBeDefined();
    expect(env.STORAGE_S3_FORCE_PATH_STYLE).toBe('true');
    // The S3 identity the server is given is the one the gateway uses.
    const identities = interpolate(composeText.slice(composeText.indexOf('\nconfigs:')));
    expect(identities).toContain(`"accessKey": "${interpolate(String(env.STORAGE_S3_ACCESS_KEY))}"`);
    expect(identities).toContain(`"secretKey": "${interpolate(String(env.STORAGE_S3_SECRET_KEY))}"`);
  });

  it('documents in .env.example every variable compose interpolates, and requires the secret key', () => {
    const used = new Set([...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1] ?? ''));
    expect([...used].filter((v) => !exampleEnv.has(v))).toEqual([]);
    expect([...exampleEnv.keys()].filter((v) => !used.has(v))).toEqual([]);
    expect(services.api?.environment?.GATEWAY_SECRET_KEY).toMatch(/^\$\{GATEWAY_SECRET_KEY:\?/);
  });

  it('publishes the API on the port the README and PORT default name, and storage ports on loopback only', () => {
    expect(interpolate((services.api?.ports ?? [])[0] ?? '')).toBe('19530:19530');
    for (const name of ['postgres', 'redis', 's3']) {
      for (const p of services[name]?.ports ?? []) expect(interpolate(p), name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    expect(interpolate((services.postgres?.ports ?? [])[0] ?? '')).toBe('127.0.0.1:5432:5432');
  });
});
