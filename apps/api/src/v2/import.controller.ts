import { Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  CancelImportJob,
  CollectionsImportCatalog,
  CreateImportJob,
  DEFAULT_PAGE_SIZE,
  DescribeImportJob,
  jobsErrors,
  ListImportJobs,
  type JobView,
  type ListJobsQuery,
  type ListJobsResult,
  MAX_PAGE_SIZE,
  parseStateFilter,
  parseStatesFilter,
  describeV2,
  type ImportCatalog,
  listRecordV2,
  ReadJobRejects,
} from '@gw/jobs';
import { assertAccess, assertVolumeAccess, RequireScope } from '../http/auth.guard';
import { intField, stringField } from '../http/body';
import { type Principal, stateOf } from '../http/request-context';
import { timeRangeOf } from './job-time-range';

export function pageOf(fields: Record<string, unknown>): ListJobsQuery['page'] {
  const size = intField(fields, 'pageSize');
  const current = intField(fields, 'currentPage');
  if (size === undefined && current === undefined) return undefined;
  if (size !== undefined && size < 1) throw jobsErrors.invalid('pageSize must be at least 1');
  if (current !== undefined && current < 1) throw jobsErrors.invalid('currentPage must be at least 1');
  return { size: Math.min(size ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), current: current ?? 1 };
}

/** The create flow both flavours share: the API key scopes the target, replays set the header. */
export async function createFromRequest(
  create: CreateImportJob,
  req: Request,
  res: Response,
  body: Record<string, unknown>,
): Promise<string> {
  const s = stateOf(req);
  // Reading a volume into a collection is reading the volume (decision 0602).
  if (body.volumeName !== undefined || body.dataPaths !== undefined) assertVolumeAccess(s.principal, 'volumes:read');
  const result = await create.execute({
    dbName: s.dbName!,
    body,
    idempotencyKey: req.header('idempotency-key'),
    ...(s.principal?.keyId === undefined ? {} : { apiKeyId: s.principal.keyId }),
    requestId: s.requestId,
    authorize: (db, collection) => assertAccess(s.principal, db, collection),
  });
  if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return result.jobId;
}

export function requireJobId(fields: Record<string, unknown>): string {
  const jobId = stringField(fields, 'jobId');
  if (jobId === undefined) throw jobsErrors.missing(['jobId']);
  return jobId;
}

/** The routes' database check (import-api.md §2, decision 1701): the catalog's, seen from a route. */
export type DatabaseCheck = Pick<ImportCatalog, 'checkDatabase'>;

/**
 * A route's id field (jobId, scheduleId), then the request's database (800): a route that finds
 * its object by id alone still answers 800 for a database that does not exist (decision 1701).
 */
export async function requireIdInDatabase(
  databases: DatabaseCheck,
  req: Request,
  read: (fields: Record<string, unknown>) => string,
): Promise<string> {
  const s = stateOf(req);
  const id = read(s.fields!);
  await databases.checkDatabase(s.dbName!);
  return id;
}

/** The job a read request names, once the key may see its collection (both flavours). */
export async function describeForRequest(
  describer: DescribeImportJob,
  databases: DatabaseCheck,
  req: Request,
): Promise<JobView> {
  const s = stateOf(req);
  const view = await describer.execute(await requireIdInDatabase(databases, req, requireJobId));
  assertAccess(s.principal, view.job.dbName, view.job.collectionName);
  return view;
}

/**
 * A list request of either flavour: access to the database (and the named collection) checked;
 * a key limited to some collections lists (and counts) only theirs, filtered in SQL so pages are
 * full and `count` is what the key may see.
 */
export async function listForRequest(
  lister: ListImportJobs,
  databases: DatabaseCheck,
  req: Request,
  query: Pick<ListJobsQuery, 'states' | 'page' | 'createdAfter' | 'createdBefore'>,
): Promise<ListJobsResult> {
  const s = stateOf(req);
  const collectionName = stringField(s.fields!, 'collectionName');
  assertAccess(s.principal, s.dbName!, collectionName);
  await databases.checkDatabase(s.dbName!);
  const visible = visibleCollections(s.principal, s.dbName!);
  return lister.execute({
    dbName: s.dbName!,
    ...(collectionName === undefined ? {} : { collectionName }),
    ...(visible === undefined ? {} : { collectionsIn: visible }),
    ...query,
  });
}

/**
 * `state` (Milvus) and the gateway's `states` (docs/api-extensions.md, "List filters"; the time range
 * is timeRangeOf). `state` and `states` together must both hold: the jobs in both.
 */
export function listFilters(f: Record<string, unknown>): Pick<ListJobsQuery, 'states'> {
  const state = stringField(f, 'state');
  let states = state === undefined ? undefined : parseStateFilter(state);
  if (f.states !== undefined) {
    const many = parseStatesFilter(f.states);
    states = states === undefined ? many : states.filter((s) => many.includes(s));
    // Nothing in both: a filter no job matches, not "no filter".
    if (states.length === 0) states = [];
  }
  return {
    ...(states === undefined ? {} : { states }),
  };
}

/** Milvus v2 / Zilliz Cloud v2 import routes (import-api.md §5–9). */
@Controller('v2/vectordb/jobs/import')
export class V2ImportController {
  constructor(
    @Inject(CreateImportJob) private readonly create: CreateImportJob,
    @Inject(ListImportJobs) private readonly lister: ListImportJobs,
    @Inject(DescribeImportJob) private readonly describer: DescribeImportJob,
    @Inject(CancelImportJob) private readonly canceller: CancelImportJob,
    @Inject(ReadJobRejects) private readonly rejects: ReadJobRejects,
    @Inject(CollectionsImportCatalog) private readonly databases: DatabaseCheck,
  ) {}

  /**
   * The rejected-rows report (error_mode=continue, docs/api-extensions.md): one page as JSONL, one
   * `{file,row,field,reason,raw}` object a line; `Gateway-Rejects-Next` names the next page's
   * `after` (absent on the last). Same key rules as describe.
   */
  @Get('rejects')
  @RequireScope('import:read')
  async rejectsPage(@Req() req: Request, @Res() res: Response) {
    const s = stateOf(req);
    const f = s.fields!;
    const after = stringField(f, 'after');
    const limit = intField(f, 'limit');
    const jobId = await requireIdInDatabase(this.databases, req, requireJobId);
    const page = await this.rejects.execute({
      jobId,
      ...(after === undefined ? {} : { after }),
      ...(limit === undefined ? {} : { limit }),
      authorize: (v) => assertAccess(s.principal, v.job.dbName, v.job.collectionName),
    });
    res.setHeader('Gateway-Rejected-Rows', String(page.rejectedRows));
    if (page.next !== null) res.setHeader('Gateway-Rejects-Next', page.next);
    res.type('application/x-ndjson');
    res.status(200).send(page.rows.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  @Post('create')
  @HttpCode(200)
  @RequireScope('import:write')
  async createJob(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const jobId = await createFromRequest(this.create, req, res, stateOf(req).fields!);
    return { code: 0, data: { jobId } };
  }

  /**
   * Dry run (docs/api-extensions.md, decision 1302): the create body with options.dry_run forced to
   * "true". It answers a job id at once; the worker reads and validates every row without writing
   * and describe shows the report.
   */
  @Post('validate')
  @HttpCode(200)
  @RequireScope('import:write')
  async validate(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const fields = stateOf(req).fields!;
    const o = fields.options;
    const options =
      o === undefined || o === null
        ? { dry_run: 'true' }
        : typeof o === 'object' && !Array.isArray(o)
          ? { ...(o as Record<string, unknown>), dry_run: 'true' }
          : o; // not an object: create refuses it as it would
    const jobId = await createFromRequest(this.create, req, res, { ...fields, options });
    return { code: 0, data: { jobId } };
  }

  // Read routes answer GET and POST alike (a Nest handler carries one method, hence the pairs).
  @Get('list')
  @RequireScope('import:read')
  async listByGet(@Req() req: Request) {
    return this.list(req);
  }

  @Post('list')
  @HttpCode(200)
  @RequireScope('import:read')
  async list(@Req() req: Request) {
    const f = stateOf(req).fields!;
    const page = pageOf(f);
    const result = await listForRequest(this.lister, this.databases, req, {
      ...listFilters(f),
      ...(page === undefined ? {} : { page }),
      ...timeRangeOf(f),
    });
    const records = result.records.map(listRecordV2);
    if (page === undefined) return { code: 0, data: { records } };
    return { code: 0, data: { count: result.count, currentPage: page.current, pageSize: page.size, records } };
  }

  @Get(['describe', 'get_progress', 'getProgress'])
  @RequireScope('import:read')
  async describeByGet(@Req() req: Request) {
    return this.describe(req);
  }

  @Post(['describe', 'get_progress', 'getProgress'])
  @HttpCode(200)
  @RequireScope('import:read')
  async describe(@Req() req: Request) {
    return { code: 0, data: describeV2(await describeForRequest(this.describer, this.databases, req)) };
  }

  @Post('cancel')
  @HttpCode(200)
  @RequireScope('import:write')
  async cancel(@Req() req: Request) {
    const s = stateOf(req);
    const jobId = await requireIdInDatabase(this.databases, req, requireJobId);
    const view = await this.canceller.execute(jobId, (v) =>
      assertAccess(s.principal, v.job.dbName, v.job.collectionName),
    );
    return { code: 0, data: describeV2(view) };
  }
}

/**
 * The collections of `dbName` a key is limited to (bare `name` or qualified `db.name` entries;
 * names cannot hold a dot), or undefined when it is not limited.
 */
export function visibleCollections(p: Principal | undefined, dbName: string): string[] | undefined {
  if (p === undefined || p.collections.length === 0) return undefined;
  const prefix = `${dbName}.`;
  return p.collections.flatMap((c) => (!c.includes('.') ? [c] : c.startsWith(prefix) ? [c.slice(prefix.length)] : []));
}
