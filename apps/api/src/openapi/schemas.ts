import type { SchemaObject } from '@nestjs/swagger';

/**
 * Schemas of the documented bodies (import-api.md, collections-api.md), OpenAPI 3.0 form. Loose
 * where the spec is loose: unknown fields are ignored by the gateway, so objects stay open.
 */
const str: SchemaObject = { type: 'string' };
const int: SchemaObject = { type: 'integer' };
const groups: SchemaObject = { type: 'array', items: { type: 'array', items: str } };
const jobId: SchemaObject = { type: 'string', pattern: '^job-[a-z0-9]{22}$', example: 'job-7k2m9q4x1c8v5b3n6z0p2r' };
const time: SchemaObject = { type: 'string', description: 'RFC 3339 UTC with seconds; `""` until terminal' };
const v2State: SchemaObject = { type: 'string', enum: ['Pending', 'Importing', 'Completed', 'Failed'] };
const gatewayState: SchemaObject = {
  type: 'string',
  enum: ['Pending', 'Importing', 'Completed', 'Failed', 'Cancelled'],
  description: 'extension: the exact state (`state` says Failed for Cancelled)',
};

export const SCHEMAS: Record<string, SchemaObject> = {
  ErrorEnvelope: {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'integer' }, message: { type: 'string', minLength: 1 } },
  },
  OkEnvelope: {
    type: 'object',
    required: ['code'],
    properties: { code: { type: 'integer', enum: [0] }, data: {} },
  },
  CreateImportRequest: {
    type: 'object',
    description:
      'Exactly one of `files`, `objectUrl`, `objectUrls`, `dataPaths` must be non-empty (none → 1802, several → 1100). ' +
      'A field that is `null`, `""`, `[]` or `{}` counts as absent.',
    properties: {
      collectionName: str,
      dbName: str,
      partitionName: str,
      files: {
        ...groups,
        description: 'Milvus form: one inner list per file group; relative paths resolve against STORAGE_DEFAULT_URL',
      },
      objectUrl: { ...str, description: 'Zilliz form: one URL = one group' },
      objectUrls: groups,
      accessKey: str,
      secretKey: str,
      token: str,
      clusterId: str,
      projectId: str,
      regionId: str,
      volumeName: str,
      dataPaths: groups,
      options: {
        type: 'object',
        additionalProperties: { oneOf: [str, { type: 'number' }, { type: 'boolean' }] },
        description:
          '`timeout`, `sep`, `nullkey`, `ignore_unknown_fields`; gateway extensions `dry_run`, `error_mode`, `max_bad_rows`, `skip_imported`, `on_conflict`, `webhook_url`',
      },
    },
  },
  CreateImportResponse: {
    type: 'object',
    required: ['code', 'data'],
    properties: {
      code: { type: 'integer', enum: [0] },
      data: { type: 'object', required: ['jobId'], properties: { jobId } },
    },
  },
  JobIdRequest: {
    type: 'object',
    required: ['jobId'],
    properties: { jobId: str, dbName: str, clusterId: str, projectId: str, regionId: str },
  },
  ListImportRequest: {
    type: 'object',
    properties: {
      dbName: str,
      collectionName: str,
      state: { ...str, description: 'extension filter: Pending, Importing/InProgress, Completed, Failed, Cancelled' },
      pageSize: { oneOf: [int, str], description: 'paged mode; default 10, clamped to 100' },
      currentPage: { oneOf: [int, str], description: 'paged mode; 1-based' },
      clusterId: str,
    },
  },
  JobFileDetail: {
    type: 'object',
    required: ['fileName', 'fileSize', 'state', 'progress', 'importedRows', 'totalRows', 'reason', 'completeTime'],
    properties: {
      fileName: str,
      fileSize: int,
      state: { type: 'string', enum: ['Pending', 'InProgress', 'Completed', 'Failed'] },
      progress: { type: 'integer', minimum: 0, maximum: 100 },
      importedRows: int,
      totalRows: int,
      reason: str,
      completeTime: time,
    },
  },
  JobDescription: {
    type: 'object',
    required: [
      'jobId',
      'collectionName',
      'state',
      'gatewayState',
      'progress',
      'importedRows',
      'totalRows',
      'reason',
      'createTime',
      'completeTime',
      'details',
    ],
    properties: {
      jobId,
      collectionName: str,
      fileName: { ...str, description: 'only for a one-group job' },
      fileSize: int,
      state: v2State,
      gatewayState,
      progress: { type: 'integer', minimum: 0, maximum: 100 },
      importedRows: int,
      totalRows: int,
      reason: str,
      createTime: time,
      completeTime: time,
      details: { type: 'array', items: { $ref: '#/components/schemas/JobFileDetail' } },
    },
  },
  DescribeImportResponse: {
    type: 'object',
    required: ['code', 'data'],
    properties: { code: { type: 'integer', enum: [0] }, data: { $ref: '#/components/schemas/JobDescription' } },
  },
  JobRecord: {
    type: 'object',
    required: ['collectionName', 'jobId', 'state', 'gatewayState', 'progress', 'createTime'],
    properties: {
      collectionName: str,
      jobId,
      state: v2State,
      gatewayState,
      progress: { type: 'integer', minimum: 0, maximum: 100 },
      createTime: time,
      reason: { ...str, description: 'only when non-empty' },
    },
  },
  ListImportResponse: {
    type: 'object',
    required: ['code', 'data'],
    properties: {
      code: { type: 'integer', enum: [0] },
      data: {
        type: 'object',
        required: ['records'],
        description:
          'Milvus mode (no pageSize/currentPage): `records` only, at most 1,000. Paged mode adds count, currentPage, pageSize.',
        properties: {
          count: int,
          currentPage: int,
          pageSize: int,
          records: { type: 'array', items: { $ref: '#/components/schemas/JobRecord' } },
        },
      },
    },
  },
  V1ImportRequest: {
    type: 'object',
    required: ['collectionName', 'objectUrl'],
    properties: {
      clusterId: str,
      collectionName: str,
      partitionName: str,
      objectUrl: str,
      accessKey: str,
      secretKey: str,
      token: str,
      dbName: str,
      options: { type: 'object' },
    },
  },
  V1CreateResponse: {
    type: 'object',
    required: ['code', 'data'],
    properties: {
      code: { type: 'integer', enum: [200] },
      data: { type: 'object', required: ['jobId'], properties: { jobId } },
    },
  },
  V1Progress: {
    type: 'object',
    required: ['code', 'data'],
    properties: {
      code: { type: 'integer', enum: [200] },
      data: {
        type: 'object',
        required: ['collectionName', 'jobId', 'readyPercentage', 'details'],
        properties: {
          collectionName: str,
          jobId,
          fileName: str,
          fileSize: int,
          readyPercentage: { type: 'number', minimum: 0, maximum: 1 },
          completeTime: { type: 'string', nullable: true },
          errorMessage: { type: 'string', nullable: true },
          details: { type: 'array', items: { type: 'object' } },
        },
      },
    },
  },
  V1List: {
    type: 'object',
    required: ['code', 'data'],
    properties: {
      code: { type: 'integer', enum: [200] },
      data: {
        type: 'object',
        required: ['count', 'currentPage', 'pageSize', 'tasks'],
        properties: {
          count: int,
          currentPage: int,
          pageSize: int,
          tasks: {
            type: 'array',
            items: {
              type: 'object',
              required: ['collectionName', 'jobId', 'state'],
              properties: {
                collectionName: str,
                jobId,
                state: { type: 'string', enum: ['ImportRunning', 'ImportCompleted', 'ImportFailed'] },
              },
            },
          },
        },
      },
    },
  },
  CollectionRequest: {
    type: 'object',
    properties: { dbName: str, collectionName: str },
    description: 'collections-api.md: each route reads its own fields; shown here are the common ones',
  },
};
