import { Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  CollectionsImportCatalog,
  CreateImportJob,
  DescribeImportJob,
  describeV1,
  jobsErrors,
  ListImportJobs,
  v1State,
} from '@gw/jobs';
import { RequireScope } from '../http/auth.guard';
import { stateOf } from '../http/request-context';
import {
  createFromRequest,
  type DatabaseCheck,
  describeForRequest,
  listForRequest,
  pageOf,
} from '../v2/import.controller';

/** Legacy Zilliz v1 import routes (import-api.md §10). */
@Controller('v1/vector/collections/import')
export class V1ImportController {
  constructor(
    @Inject(CreateImportJob) private readonly create: CreateImportJob,
    @Inject(ListImportJobs) private readonly lister: ListImportJobs,
    @Inject(DescribeImportJob) private readonly describer: DescribeImportJob,
    @Inject(CollectionsImportCatalog) private readonly databases: DatabaseCheck,
  ) {}

  @Post()
  @HttpCode(200)
  @RequireScope('import:write')
  async importJob(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const s = stateOf(req);
    const f = s.fields!;
    const missing = ['collectionName', 'objectUrl'].filter((k) => f[k] === undefined);
    if (missing.length > 0) throw jobsErrors.missing(missing);
    // v1 knows objectUrl only: other sources are ignored rather than combined.
    const body = { ...f };
    delete body.files;
    delete body.objectUrls;
    const jobId = await createFromRequest(this.create, req, res, body);
    return { code: 200, data: { jobId } };
  }

  @Get('get')
  @HttpCode(200)
  @RequireScope('import:read')
  async get(@Req() req: Request) {
    return { code: 200, data: describeV1(await describeForRequest(this.describer, this.databases, req)) };
  }

  @Get('list')
  @HttpCode(200)
  @RequireScope('import:read')
  async list(@Req() req: Request) {
    const page = pageOf(stateOf(req).fields!) ?? { size: 10, current: 1 };
    const result = await listForRequest(this.lister, this.databases, req, { page });
    return {
      code: 200,
      data: {
        count: result.count,
        currentPage: page.current,
        pageSize: page.size,
        tasks: result.records.map((j) => ({
          collectionName: j.collectionName,
          jobId: j.jobId,
          state: v1State(j.state),
        })),
      },
    };
  }
}
