import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  type OperationObject,
  type ParameterObject,
  type ResponseObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { errorCatalog } from '../http/envelope';
import { SCHEMAS } from './schemas';

/**
 * The OpenAPI document (decision 1003). Paths come from Nest's own route table (the scanner walks
 * every controller, so a new route is documented as soon as it exists); this module adds what the
 * handlers cannot say — bodies read from `req` under the spec's parsing rules, examples from the
 * spec, the quirks OpenAPI cannot express, and every error code of the one table in envelope.ts.
 */

type Example = { summary: string; value: unknown; description?: string };
interface Doc {
  summary: string;
  description?: string;
  request?: { schema: string; examples: Record<string, Example> };
  response: { schema: string; examples: Record<string, Example> };
  /** Error answers worth showing for this route (code → example message). */
  errors?: Record<string, Example>;
}

const JOB = 'job-7k2m9q4x1c8v5b3n6z0p2r';
const DESCRIBED = {
  jobId: JOB,
  collectionName: 'medium_articles',
  fileName: 's3://docs/articles.parquet',
  fileSize: 3279917,
  state: 'Completed',
  gatewayState: 'Completed',
  progress: 100,
  importedRows: 100000,
  totalRows: 100000,
  reason: '',
  createTime: '2024-04-01T06:17:01Z',
  completeTime: '2024-04-01T06:17:55Z',
  details: [
    {
      fileName: 's3://docs/articles.parquet',
      fileSize: 3279917,
      state: 'Completed',
      progress: 100,
      importedRows: 100000,
      totalRows: 100000,
      reason: '',
      completeTime: '2024-04-01T06:17:55Z',
    },
  ],
};
const err = (code: number, message: string, summary = message): Example => ({ summary, value: { code, message } });

const QUIRKS =
  'Parsing (import-api.md §2): the body is JSON whatever the Content-Type — `application/json`, none at all, ' +
  '`text/plain` (the Node SDK) or `application/x-www-form-urlencoded` (curl `-d` without `-H`); it is never ' +
  'form-decoded. A UTF-8 BOM is skipped, a trailing comma before `}` or `]` is accepted (the Zilliz example sends ' +
  '`{"pageSize":10,}`), duplicate keys: the last wins. `null`, `""`, `[]` and `{}` mean absent. Query-string fields ' +
  'are read too; body fields win.';
const READ_ROUTE =
  ' Read route: GET and POST alike, and a GET may carry a JSON body (the Zilliz guide sends ' +
  '`GET …/getProgress` with a body) — OpenAPI 3.0 cannot describe a GET body, so the GET operation lists the same ' +
  'fields as query parameters and the POST one shows the body.';

const describeDoc = (summary: string): Doc => ({
  summary,
  description:
    'One job with per-group details (import-api.md §7). `describe`, `get_progress` (Milvus, Node SDK) and ' +
    '`getProgress` (Zilliz) are the same operation.' +
    READ_ROUTE,
  request: {
    schema: 'JobIdRequest',
    examples: {
      milvus: { summary: 'Milvus / pymilvus', value: { jobId: JOB } },
      zilliz: { summary: 'Zilliz (clusterId ignored)', value: { jobId: JOB, clusterId: 'in01-0123456789abcdef' } },
    },
  },
  response: {
    schema: 'DescribeImportResponse',
    examples: { completed: { summary: 'completed job', value: { code: 0, data: DESCRIBED } } },
  },
  errors: {
    '1802': err(1802, 'missing required parameters: jobId'),
    // Checked before the job is looked up, although the job is found by id alone (decision 1701).
    '800': err(800, 'database not found[database=nodb]'),
    '2100': err(2100, `import job not found, jobId=${JOB}`),
  },
});

const listDoc: Doc = {
  summary: 'List import jobs',
  description:
    'Jobs of the request database, newest first (import-api.md §8). Milvus mode (neither pageSize nor currentPage): ' +
    '`{"records":[…]}`, at most 1,000. Paged mode (either given): adds count, currentPage, pageSize. The Zilliz ' +
    'example body `{"clusterId":"in01-…","pageSize":10,}` (trailing comma) is accepted as written.' +
    READ_ROUTE,
  request: {
    schema: 'ListImportRequest',
    examples: {
      paged: {
        summary: 'pymilvus (paged)',
        value: { dbName: 'default', collectionName: 'quick_setup', pageSize: 10, currentPage: 1 },
      },
      milvus: { summary: 'Node SDK (Milvus mode)', value: { collectionName: 'quick_setup' } },
      state: { summary: 'extension: state filter', value: { state: 'Importing' } },
    },
  },
  response: {
    schema: 'ListImportResponse',
    examples: {
      paged: {
        summary: 'paged mode',
        value: {
          code: 0,
          data: {
            count: 1,
            currentPage: 1,
            pageSize: 10,
            records: [
              {
                collectionName: 'quick_setup',
                jobId: JOB,
                state: 'Importing',
                gatewayState: 'Importing',
                progress: 42,
                createTime: '2024-04-01T06:17:01Z',
              },
            ],
          },
        },
      },
      milvus: { summary: 'Milvus mode', value: { code: 0, data: { records: [] } } },
    },
  },
  errors: {
    '800': err(800, 'database not found[database=nodb]'),
    '1100': err(1100, 'invalid parameter: pageSize must be at least 1'),
  },
};

/** Keyed by `method path` in OpenAPI path form. */
const DOCS: Record<string, Doc> = {
  'post /v2/vectordb/jobs/import/create': {
    summary: 'Create an import job',
    description:
      'import-api.md §5. Checks before answering, in order: authentication, parsing, required fields, database (800), ' +
      'collection (100), partition (200), shapes and options (1100), request limits (2100), idempotency, active-job cap ' +
      '(2101). Object existence, credentials and file content are checked by the job. Header `Idempotency-Key`: the same ' +
      'key within 24 h returns the original jobId with `Idempotent-Replayed: true`.',
    request: {
      schema: 'CreateImportRequest',
      examples: {
        zilliz: {
          summary: 'Zilliz form (spec §5 curl example, empty credentials)',
          value: {
            collectionName: 'medium_articles',
            partitionName: '',
            objectUrl: 's3://docs/articles.parquet',
            accessKey: '',
            secretKey: '',
          },
        },
        milvus: {
          summary: 'Milvus form: relative paths in the default bucket, a NumPy group',
          value: { collectionName: 'quick_setup', files: [['1/data.parquet'], ['2/id.npy', '2/vector.npy']] },
        },
        volume: {
          summary: 'Zilliz volume form',
          value: { collectionName: 'quick_setup', volumeName: 'uploads', dataPaths: [['batch-1/']] },
        },
        options: {
          summary: 'with a deadline and CSV settings',
          value: { collectionName: 'docs', files: [['s3://bucket/docs.csv']], options: { timeout: '1h45m', sep: ';' } },
        },
      },
    },
    response: {
      schema: 'CreateImportResponse',
      examples: { created: { summary: 'created', value: { code: 0, data: { jobId: JOB } } } },
    },
    errors: {
      '100': err(100, 'collection not found[collection=medium_articles]'),
      '1802': err(1802, 'missing required parameters: files, objectUrl, objectUrls or dataPaths'),
      '2101': err(2101, 'The number of jobs has reached the limit, please try again later'),
    },
  },
  'get /v2/vectordb/jobs/import/list': listDoc,
  'post /v2/vectordb/jobs/import/list': listDoc,
  'get /v2/vectordb/jobs/import/describe': describeDoc('Describe an import job'),
  'post /v2/vectordb/jobs/import/describe': describeDoc('Describe an import job'),
  'get /v2/vectordb/jobs/import/get_progress': describeDoc('Import job progress (Milvus name)'),
  'post /v2/vectordb/jobs/import/get_progress': describeDoc('Import job progress (Milvus name)'),
  'get /v2/vectordb/jobs/import/getProgress': describeDoc('Import job progress (Zilliz name)'),
  'post /v2/vectordb/jobs/import/getProgress': describeDoc('Import job progress (Zilliz name)'),
  'post /v2/vectordb/jobs/import/cancel': {
    summary: 'Cancel an import job (gateway extension)',
    description:
      'import-api.md §9: Pending or Importing → Cancelled (staged rows discarded, credentials erased); Failed or Cancelled: ' +
      'no-op success; Completed: 1100. Answers the describe object.',
    request: { schema: 'JobIdRequest', examples: { cancel: { summary: 'cancel', value: { jobId: JOB } } } },
    response: {
      schema: 'DescribeImportResponse',
      examples: {
        cancelled: {
          summary: 'cancelled',
          value: {
            code: 0,
            data: {
              ...DESCRIBED,
              state: 'Failed',
              gatewayState: 'Cancelled',
              progress: 0,
              importedRows: 0,
              reason: 'cancelled',
              details: [],
            },
          },
        },
      },
    },
    errors: { '1100': err(1100, `job ${JOB} is Completed and cannot be cancelled`) },
  },
  'post /v1/vector/collections/import': {
    summary: 'Create an import job (legacy Zilliz v1)',
    description: 'import-api.md §10: same rules as v2 create, `objectUrl` required; success code is 200.',
    request: {
      schema: 'V1ImportRequest',
      examples: {
        v1: {
          summary: 'Zilliz v1',
          value: {
            clusterId: 'in01-0123456789abcdef',
            collectionName: 'medium_articles',
            objectUrl: 's3://docs/articles.parquet',
          },
        },
      },
    },
    response: {
      schema: 'V1CreateResponse',
      examples: { created: { summary: 'created', value: { code: 200, data: { jobId: JOB } } } },
    },
  },
  'get /v1/vector/collections/import/get': {
    summary: 'Import job progress (legacy Zilliz v1)',
    description: 'Query `jobId` (required), `clusterId` (ignored). `readyPercentage` = progress / 100.',
    response: {
      schema: 'V1Progress',
      examples: {
        running: {
          summary: 'running',
          value: {
            code: 200,
            data: {
              collectionName: 'medium_articles',
              jobId: JOB,
              fileName: 's3://docs/articles.parquet',
              fileSize: 3279917,
              readyPercentage: 0.42,
              completeTime: null,
              errorMessage: null,
              details: [],
            },
          },
        },
      },
    },
  },
  'get /v1/vector/collections/import/list': {
    summary: 'List import jobs (legacy Zilliz v1)',
    description:
      'Query `clusterId`, `pageSize`, `currentPage`, `collectionName`, `dbName`; always paged (limits as v2).',
    response: {
      schema: 'V1List',
      examples: {
        page: {
          summary: 'one page',
          value: {
            code: 200,
            data: {
              count: 1,
              currentPage: 1,
              pageSize: 10,
              tasks: [{ collectionName: 'medium_articles', jobId: JOB, state: 'ImportRunning' }],
            },
          },
        },
      },
    },
  },
  'post /v2/vectordb/collections/create': {
    summary: 'Create a collection',
    description: 'collections-api.md §4: quick setup (`dimension`) or a full `schema`.',
    request: {
      schema: 'CollectionRequest',
      examples: {
        quick: { summary: 'quick setup', value: { collectionName: 'quick_setup', dimension: 5 } },
        schema: {
          summary: 'with a schema (collections-api.md §4)',
          value: {
            collectionName: 'docs',
            schema: {
              autoID: false,
              enableDynamicField: true,
              fields: [
                { fieldName: 'id', dataType: 'Int64', isPrimary: true },
                { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 512 }, nullable: true },
                { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 768 } },
              ],
            },
          },
        },
      },
    },
    response: { schema: 'OkEnvelope', examples: { ok: { summary: 'created', value: { code: 0, data: {} } } } },
  },
  'post /v2/vectordb/collections/describe': {
    summary: 'Describe a collection',
    description: 'collections-api.md §5. `$meta` and `$partition` are not listed.',
    request: {
      schema: 'CollectionRequest',
      examples: { describe: { summary: 'describe', value: { collectionName: 'docs' } } },
    },
    response: {
      schema: 'OkEnvelope',
      examples: {
        docs: {
          summary: 'collections-api.md §5',
          value: {
            code: 0,
            data: {
              collectionName: 'docs',
              collectionID: 7,
              description: '',
              autoId: false,
              enableDynamicField: true,
              fields: [
                {
                  name: 'id',
                  type: 'Int64',
                  primaryKey: true,
                  autoId: false,
                  partitionKey: false,
                  clusteringKey: false,
                  nullable: false,
                  description: '',
                },
                {
                  name: 'vector',
                  type: 'FloatVector',
                  primaryKey: false,
                  autoId: false,
                  partitionKey: false,
                  clusteringKey: false,
                  nullable: false,
                  description: '',
                  params: [{ key: 'dim', value: '768' }],
                },
              ],
              functions: [],
              aliases: [],
              indexes: [{ fieldName: 'vector', indexName: 'vector_idx', metricType: 'COSINE' }],
              load: 'LoadStateLoaded',
              shardsNum: 1,
              partitionsNum: 1,
              consistencyLevel: 'Bounded',
              properties: [{ key: 'gateway.vectorType', value: 'pgvector' }],
            },
          },
        },
      },
    },
    errors: { '100': err(100, 'collection not found[collection=docs]') },
  },
  'post /v2/vectordb/entities/insert': {
    summary: 'Insert entities',
    description: 'collections-api.md §7: all-or-nothing; a rejected row → 1804 naming row and field.',
    request: {
      schema: 'CollectionRequest',
      examples: {
        insert: {
          summary: 'collections-api.md §7',
          value: { collectionName: 'docs', data: [{ id: 1, title: 'a', vector: [0.1, 0.2], lang: 'en' }] },
        },
      },
    },
    response: {
      schema: 'OkEnvelope',
      examples: { inserted: { summary: 'inserted', value: { code: 0, data: { insertCount: 1, insertIds: ['1'] } } } },
    },
    errors: { '1804': err(1804, "fail to deal the insert data: row 1, field 'vector': expected 768 values, got 2") },
  },
  'post /v2/vectordb/entities/get': {
    summary: 'Get entities by primary key',
    description: 'collections-api.md §9: ids of the wrong type → 1806; missing ids are absent.',
    request: {
      schema: 'CollectionRequest',
      examples: {
        get: { summary: 'by id', value: { collectionName: 'docs', id: [1, 2], outputFields: ['id', 'title'] } },
      },
    },
    response: {
      schema: 'OkEnvelope',
      examples: { rows: { summary: 'rows found', value: { code: 0, data: [{ id: '1', title: 'a' }] } } },
    },
    errors: { '1806': err(1806, 'please check the primary key') },
  },
  'post /v2/vectordb/entities/query': {
    summary: 'Query entities',
    description: 'collections-api.md §8: filter grammar, `outputFields` (`count(*)`), `limit`, `offset`.',
    request: {
      schema: 'CollectionRequest',
      examples: {
        count: {
          summary: 'count (collections-api.md §8)',
          value: { collectionName: 'docs', filter: 'id in [1,2,3] and lang == "en"', outputFields: ['count(*)'] },
        },
      },
    },
    response: {
      schema: 'OkEnvelope',
      examples: { count: { summary: 'count', value: { code: 0, data: [{ 'count(*)': '3' }] } } },
    },
  },
};

/** Every error code the envelope table can answer, as a markdown table for the document's description. */
function errorTable(): string {
  const rows = errorCatalog().map((e) => `| ${e.code} | ${e.http} | ${e.sources.join(', ')} |`);
  return ['| code | HTTP | raised as |', '|---|---|---|', ...rows].join('\n');
}

const HEADER_PARAMS: ParameterObject[] = [
  {
    name: 'DB-Name',
    in: 'header',
    required: false,
    schema: { type: 'string' },
    description: 'database when the body has no `dbName` (default `default`)',
  },
  {
    name: 'Request-Timeout',
    in: 'header',
    required: false,
    schema: { type: 'integer' },
    description: 'seconds bounding this HTTP call (default 30): 408 / 10001',
  },
  {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
    description: 'kept when sane, else generated; answered in the same header',
  },
];

/** The OpenAPI form of a route's path (`:name` → `{name}`, `*path` → `{path}`). */
export function openApiPath(nestPath: string): string {
  return nestPath.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

function errorResponses(op: OperationObject, isPublic: boolean): void {
  const envelope = { $ref: '#/components/schemas/ErrorEnvelope' };
  const add = (status: string, description: string, example: Example) => {
    op.responses[status] ??= {
      description,
      content: { 'application/json': { schema: envelope, examples: { error: example } } },
    };
  };
  if (!isPublic) {
    add('401', 'missing, unknown or revoked key', err(1800, "user hasn't authenticated"));
    add(
      '403',
      'the key lacks the scope or may not see the database/collection',
      err(1401, 'privilege not permitted: requires import:read'),
    );
  }
  add('408', 'Request-Timeout expired', err(10001, 'request timeout'));
  add('413', 'body over REQUEST_BODY_LIMIT', err(1102, 'parameter too large'));
}

function applyDoc(op: OperationObject, method: string, doc: Doc): void {
  op.summary = doc.summary;
  op.description = [doc.description, QUIRKS].filter((x) => x !== undefined).join('\n\n');
  if (doc.request !== undefined) {
    const schema = { $ref: `#/components/schemas/${doc.request.schema}` };
    if (method === 'get') {
      const props = Object.keys(SCHEMAS[doc.request.schema]?.properties ?? {});
      const required = SCHEMAS[doc.request.schema]?.required ?? [];
      op.parameters = [
        ...(op.parameters ?? []),
        ...props.map((name): ParameterObject => ({
          name,
          in: 'query',
          required: required.includes(name),
          schema: { type: 'string' },
        })),
      ];
    } else {
      op.requestBody = {
        required: false,
        description: 'JSON whatever the Content-Type (see the description)',
        content: {
          'application/json': { schema, examples: doc.request.examples },
          'text/plain': { schema, examples: doc.request.examples },
        },
      };
    }
  }
  const errors = Object.values(doc.errors ?? {});
  const response: ResponseObject = {
    description: 'HTTP 200: success, or an error envelope with a non-zero code (Milvus answers most errors with 200)',
    content: {
      'application/json': {
        schema: {
          oneOf: [
            { $ref: `#/components/schemas/${doc.response.schema}` },
            { $ref: '#/components/schemas/ErrorEnvelope' },
          ],
        },
        examples: {
          ...doc.response.examples,
          ...Object.fromEntries(errors.map((e) => [`error ${String((e.value as { code: number }).code)}`, e])),
        },
      },
    },
  };
  op.responses['200'] = response;
}

const PUBLIC_PREFIXES = ['/health/', '/metrics'];

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('import-gateway')
    .setVersion('0.1.0')
    .setDescription(
      'Milvus v2 / Zilliz bulk-import REST API (and legacy v1) with collections in PostgreSQL. REST only, no gRPC. ' +
        'Every answer is the Milvus envelope: success `{"code":0,"data":…}` (v1: code 200), errors ' +
        '`{"code":n,"message":…}` with HTTP 200 unless the table says otherwise. Authenticate with ' +
        '`Authorization: Bearer <key>` (`Bearer <user>:<key>` from Milvus clients). Contract: import-api.md, ' +
        'collections-api.md.\n\n**Error codes** (the one table in apps/api/src/http/envelope.ts):\n\n' +
        errorTable(),
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API key (`npm run apikey -- create`)' }, 'bearer')
    .build();
  const doc = SwaggerModule.createDocument(app, config);
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...SCHEMAS } };
  const codes = errorCatalog().map((e) => e.code);
  const envelope = doc.components.schemas?.ErrorEnvelope as { properties: { code: Record<string, unknown> } };
  envelope.properties.code = { type: 'integer', enum: [...new Set(codes)], 'x-error-codes': errorCatalog() };

  for (const [path, item] of Object.entries(doc.paths)) {
    const isPublic = PUBLIC_PREFIXES.some((p) => path.startsWith(p));
    for (const method of ['get', 'post', 'put', 'delete'] as const) {
      const op = item[method];
      if (op === undefined) continue;
      op.operationId = `${method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`;
      op.tags = [path.startsWith('/v1/') ? 'v1' : (path.split('/')[path.startsWith('/v2/vectordb/') ? 3 : 2] ?? 'ops')];
      op.security = isPublic ? [{}, { bearer: [] }] : [{ bearer: [] }];
      if (!isPublic) op.parameters = [...(op.parameters ?? []), ...HEADER_PARAMS];
      if (path === '/v2/vectordb/jobs/import/create') {
        op.parameters = [
          ...(op.parameters ?? []),
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            schema: { type: 'string', minLength: 1, maxLength: 256 },
          },
        ];
      }
      const d = DOCS[`${method} ${path}`];
      if (d !== undefined) applyDoc(op, method, d);
      else if (!isPublic) {
        op.description ??= QUIRKS;
        if (method === 'post') {
          op.requestBody ??= {
            required: false,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/CollectionRequest' } } },
          };
        }
        op.responses['200'] = {
          description: 'the Milvus envelope: `{"code":0,"data":…}` or an error code',
          content: {
            'application/json': {
              schema: {
                oneOf: [{ $ref: '#/components/schemas/OkEnvelope' }, { $ref: '#/components/schemas/ErrorEnvelope' }],
              },
            },
          },
        };
      }
      errorResponses(op, isPublic);
    }
  }
  return doc;
}

/**
 * `/docs` (Swagger UI from the local swagger-ui-dist package: no network needed) and `/docs-json`.
 * Served without a key (decision 1003): the document describes the contract, never data.
 */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    raw: ['json'],
    customSiteTitle: 'import-gateway API',
  });
}
