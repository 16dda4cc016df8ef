import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@gw/db';
import {
  createScratchDatabase,
  freePort,
  gatewayEnv,
  type RunningProcess,
  startNode,
  waitForStatus,
} from '@gw/testing';
import { errorCatalog } from '../../../apps/api/src/http/envelope';
import { openApiPath } from '../../../apps/api/src/openapi/openapi';

/**
 * /docs-json and /docs from a real API process: every route Nest registered (read from its own
 * "Mapped {path, METHOD} route" start-up lines) is documented, every error code of the envelope
 * table is listed, every example validates against its schema, and the UI's assets are local.
 */
let scratch: { url: string; drop: () => Promise<void> };
let api: RunningProcess;
let base: string;
type Json = Record<string, unknown>;
let doc: Json;

beforeAll(async () => {
  scratch = await createScratchDatabase();
  await migrate(scratch.url);
  const port = await freePort();
  api = startNode('apps/api/src/main.js', gatewayEnv({ DATABASE_URL: scratch.url, PORT: String(port) }));
  base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/health/ready`, 200, 30_000);
  const r = await fetch(`${base}/docs-json`);
  if (r.status !== 200) throw new Error(`/docs-json answered ${r.status}`);
  doc = (await r.json()) as Json;
});

afterAll(async () => {
  await api?.stop('SIGTERM');
  await scratch?.drop();
});

/** The routes Nest mapped, from the process's own log lines: `Mapped {/path, METHOD} route`. */
function mappedRoutes(): { method: string; path: string }[] {
  return [...api.output().matchAll(/Mapped \{([^,]+), (GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|ALL)\} route/g)].map(
    (m) => ({ path: m[1] ?? '', method: (m[2] ?? '').toLowerCase() }),
  );
}

/** A small validator for the OpenAPI 3.0 schema subset the document uses ($ref, oneOf, type, enum, required, items, …). */
function validate(schema: Json, value: unknown, at: string, errors: string[]): void {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = ((doc.components as Json).schemas as Json)[name] as Json | undefined;
    if (target === undefined) errors.push(`${at}: unresolved ${schema.$ref}`);
    else validate(target, value, at, errors);
    return;
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Json[]).filter((s) => {
      const e: string[] = [];
      validate(s, value, at, e);
      return e.length === 0;
    });
    if (passing.length !== 1) errors.push(`${at}: matches ${passing.length} of oneOf`);
    return;
  }
  if (value === null) {
    if (schema.nullable !== true) errors.push(`${at}: null not allowed`);
    return;
  }
  const type = schema.type as string | undefined;
  const actual = Array.isArray(value) ? 'array' : typeof value;
  if (type === 'integer' && !(typeof value === 'number' && Number.isInteger(value)))
    errors.push(`${at}: not an integer`);
  else if (type !== undefined && type !== 'integer' && type !== actual)
    errors.push(`${at}: ${actual}, expected ${type}`);
  if (Array.isArray(schema.enum) && !(schema.enum as unknown[]).includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof schema.pattern === 'string' && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) {
    errors.push(`${at}: ${value} does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: above maximum`);
  }
  if (actual === 'array' && schema.items !== undefined) {
    (value as unknown[]).forEach((v, i) => validate(schema.items as Json, v, `${at}[${i}]`, errors));
  }
  if (actual === 'object') {
    const obj = value as Json;
    for (const r of (schema.required as string[] | undefined) ?? [])
      if (!(r in obj)) errors.push(`${at}: missing ${r}`);
    const props = (schema.properties as Json | undefined) ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k] !== undefined) validate(props[k] as Json, v, `${at}.${k}`, errors);
      else if (typeof schema.additionalProperties === 'object')
        validate(schema.additionalProperties as Json, v, `${at}.${k}`, errors);
    }
  }
}

type Media = { schema?: Json; examples?: Record<string, { value: unknown }> };
function operations(): { key: string; op: Json }[] {
  return Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ key: `${method} ${path}`, op })),
  );
}

describe('OpenAPI document (real API process)', () => {
  it('documents every route Nest registered, under the same method', () => {
    const routes = mappedRoutes();
    expect(routes.length).toBeGreaterThan(40);
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    const missing = routes.filter((r) => paths[openApiPath(r.path)]?.[r.method] === undefined);
    expect(missing).toEqual([]);
    for (const must of [
      'post /v2/vectordb/jobs/import/create',
      'get /v2/vectordb/jobs/import/describe',
      'post /v2/vectordb/jobs/import/getProgress',
      'post /v2/vectordb/jobs/import/cancel',
      'get /v1/vector/collections/import/list',
      'put /v2/volumes/{volumeName}/files/{path}',
      'get /health/ready',
      'get /metrics',
    ]) {
      expect(operations().map((o) => o.key)).toContain(must);
    }
  });

  it('lists every error code of the envelope table, with its HTTP status', () => {
    const catalog = errorCatalog();
    expect(catalog.map((e) => e.code)).toEqual(
      expect.arrayContaining([
        2, 100, 200, 404, 800, 1100, 1102, 1401, 1800, 1801, 1802, 1804, 1806, 2100, 2101, 10001, 65535,
      ]),
    );
    const code = ((((doc.components as Json).schemas as Json).ErrorEnvelope as Json).properties as Json).code as Json;
    expect([...(code.enum as number[])].sort((a, b) => a - b)).toEqual(
      [...new Set(catalog.map((e) => e.code))].sort((a, b) => a - b),
    );
    const description = (doc.info as Json).description as string;
    for (const e of catalog) expect(description).toContain(`| ${e.code} | ${e.http} |`);
    const create = (doc.paths as Json)['/v2/vectordb/jobs/import/create'] as Record<string, Json>;
    expect(Object.keys(create.post?.responses as Json)).toEqual(
      expect.arrayContaining(['200', '401', '403', '408', '413']),
    );
  });

  it('gives the import routes the spec examples, and each example validates against its schema', () => {
    const errors: string[] = [];
    let count = 0;
    for (const { key, op } of operations()) {
      const bodies = [
        ...Object.values(((op.requestBody as Json | undefined)?.content as Record<string, Media> | undefined) ?? {}),
        ...Object.values(op.responses as Record<string, { content?: Record<string, Media> }>).flatMap((r) =>
          Object.values(r.content ?? {}),
        ),
      ];
      for (const media of bodies) {
        for (const [name, ex] of Object.entries(media.examples ?? {})) {
          count++;
          validate(media.schema ?? {}, ex.value, `${key} ${name}`, errors);
        }
      }
    }
    expect(errors).toEqual([]);
    expect(count).toBeGreaterThan(40);
    const create = ((doc.paths as Json)['/v2/vectordb/jobs/import/create'] as Record<string, Json>).post!;
    const body = ((create.requestBody as Json).content as Record<string, Media>)['application/json']!;
    expect(body.examples?.zilliz?.value).toEqual({
      collectionName: 'medium_articles',
      partitionName: '',
      objectUrl: 's3://docs/articles.parquet',
      accessKey: '',
      secretKey: '',
    });
    // The quirks OpenAPI cannot express are described where they apply.
    expect(create.description).toContain('whatever the Content-Type');
    const list = ((doc.paths as Json)['/v2/vectordb/jobs/import/list'] as Record<string, Json>).get!;
    expect(list.description).toContain('trailing comma');
    expect(list.description).toContain('GET may carry a JSON body');
    // A wrong example would be caught: the validator is not a no-op.
    const wrong: string[] = [];
    validate({ $ref: '#/components/schemas/CreateImportResponse' }, { code: 0, data: { jobId: 'nope' } }, 'x', wrong);
    expect(wrong.length).toBe(1);
  });

  it('serves Swagger UI at /docs with its assets from this process, no key needed', async () => {
    const html = await (await fetch(`${base}/docs`)).text();
    expect(html).toContain('swagger-ui');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(2);
    for (const a of assets) {
      expect(a, 'no asset from another origin').not.toMatch(/^(https?:)?\/\//);
      // Relative to the page a browser opened: `${base}/docs`.
      const r = await fetch(new URL(a, `${base}/docs`));
      expect(r.status, a).toBe(200);
    }
    const init = await fetch(`${base}/docs/swagger-ui-init.js`);
    expect(await init.text()).toContain('/v2/vectordb/jobs/import/create');
  });
});
