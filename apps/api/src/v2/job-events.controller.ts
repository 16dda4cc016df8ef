import { Controller, Get, HttpCode, Inject, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { CollectionsImportCatalog, jobEventsV2, ListJobEvents } from '@gw/jobs';
import { assertAccess, RequireScope } from '../http/auth.guard';
import { stateOf } from '../http/request-context';
import { type DatabaseCheck, requireIdInDatabase, requireJobId } from './import.controller';

/**
 * A job's state changes (gateway extension, docs/api-extensions.md "Job events"): what the
 * dashboard's job page lists. Same scope and access checks as describe.
 */
@Controller('v2/vectordb/jobs/import')
export class V2JobEventsController {
  constructor(
    @Inject(ListJobEvents) private readonly lister: ListJobEvents,
    @Inject(CollectionsImportCatalog) private readonly databases: DatabaseCheck,
  ) {}

  @Get('events')
  @RequireScope('import:read')
  async eventsByGet(@Req() req: Request) {
    return this.events(req);
  }

  @Post('events')
  @HttpCode(200)
  @RequireScope('import:read')
  async events(@Req() req: Request) {
    const s = stateOf(req);
    const jobId = await requireIdInDatabase(this.databases, req, requireJobId);
    const found = await this.lister.execute(jobId, (v) =>
      assertAccess(s.principal, v.job.dbName, v.job.collectionName),
    );
    return { code: 0, data: jobEventsV2(found) };
  }
}
