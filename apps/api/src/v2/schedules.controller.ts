import { Controller, Get, HttpCode, Inject, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { CollectionsImportCatalog, jobsErrors, ManageImportSchedules, presentSchedule } from '@gw/jobs';
import { assertAccess, RequireScope } from '../http/auth.guard';
import { stringField } from '../http/body';
import { stateOf } from '../http/request-context';
import { type DatabaseCheck, requireIdInDatabase, visibleCollections } from './import.controller';

/** Scheduled imports, a gateway extension (docs/api-extensions.md "Scheduled imports", decision 1402). */
@Controller('v2/vectordb/jobs/import/schedules')
export class V2SchedulesController {
  constructor(
    @Inject(ManageImportSchedules) private readonly schedules: ManageImportSchedules,
    @Inject(CollectionsImportCatalog) private readonly databases: DatabaseCheck,
  ) {}

  @Post('create')
  @HttpCode(200)
  @RequireScope('import:write')
  async create(@Req() req: Request) {
    const s = stateOf(req);
    const { scheduleId } = await this.schedules.create({
      dbName: s.dbName!,
      body: s.fields!,
      ...(s.principal?.keyId === undefined ? {} : { apiKeyId: s.principal.keyId }),
      authorize: (db, collection) => assertAccess(s.principal, db, collection),
    });
    return { code: 0, data: { scheduleId } };
  }

  @Get('list')
  @RequireScope('import:read')
  async listByGet(@Req() req: Request) {
    return this.list(req);
  }

  @Post('list')
  @HttpCode(200)
  @RequireScope('import:read')
  async list(@Req() req: Request) {
    const s = stateOf(req);
    const collectionName = stringField(s.fields!, 'collectionName');
    assertAccess(s.principal, s.dbName!, collectionName);
    await this.databases.checkDatabase(s.dbName!);
    const visible = visibleCollections(s.principal, s.dbName!);
    const rows = await this.schedules.list({
      dbName: s.dbName!,
      ...(collectionName === undefined ? {} : { collectionName }),
      ...(visible === undefined ? {} : { collectionsIn: visible }),
    });
    return { code: 0, data: { records: rows.map(presentSchedule) } };
  }

  @Get('describe')
  @RequireScope('import:read')
  async describeByGet(@Req() req: Request) {
    return this.describe(req);
  }

  @Post('describe')
  @HttpCode(200)
  @RequireScope('import:read')
  async describe(@Req() req: Request) {
    return { code: 0, data: presentSchedule(await this.named(req)) };
  }

  @Post('drop')
  @HttpCode(200)
  @RequireScope('import:write')
  async drop(@Req() req: Request) {
    await this.schedules.drop(await this.named(req));
    return { code: 0, data: {} };
  }

  private async named(req: Request) {
    const s = stateOf(req);
    const scheduleId = await requireIdInDatabase(this.databases, req, (f) => {
      const id = stringField(f, 'scheduleId');
      if (id === undefined) throw jobsErrors.missing(['scheduleId']);
      return id;
    });
    const row = await this.schedules.describe(scheduleId);
    assertAccess(s.principal, row.dbName, row.collectionName);
    return row;
  }
}
