import { Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import * as C from '@gw/collections';
import { rowsToBatch, SchemaError } from '@gw/schema';
import { assertAccess, assertDatabaseAccess, mayUseCollection, RequireScope } from '../http/auth.guard';
import { stateOf } from '../http/request-context';

export const COLLECTIONS_CONTEXT = Symbol('COLLECTIONS_CONTEXT');

type Handler = (ctx: C.CollectionsContext, db: string, body: Record<string, unknown>) => Promise<unknown>;

/**
 * Milvus v2 collection, partition, index, database and entity routes (collections-api.md §1).
 * Each route is one call into libs/collections; responses go through its serialiser so Int64
 * values follow the Accept-Type-Allow-Int64 header.
 */
@Controller('v2/vectordb')
export class V2CollectionsController {
  constructor(@Inject(COLLECTIONS_CONTEXT) private readonly ctx: C.CollectionsContext) {}

  private async run(req: Request, res: Response, handler: Handler): Promise<void> {
    const s = stateOf(req);
    const body = s.fields!;
    const db = s.dbName!;
    const collection = typeof body.collectionName === 'string' ? body.collectionName : undefined;
    assertAccess(s.principal, db, collection);
    const data = await handler(this.ctx, db, body);
    const allowInt64Numbers = req.header('accept-type-allow-int64')?.trim().toLowerCase() === 'true';
    res
      .status(200)
      .type('application/json')
      .send(`{"code":0,"data":${C.serializeJson(data, { allowInt64Numbers })}}`);
  }

  // collections
  @Post('collections/create')
  @HttpCode(200)
  @RequireScope('collections:write')
  async createCollection(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.createCollection);
  }
  @Post('collections/describe')
  @HttpCode(200)
  @RequireScope('collections:read')
  async describeCollection(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.describeCollection);
  }
  @Post('collections/list')
  @HttpCode(200)
  @RequireScope('collections:read')
  async listCollections(@Req() q: Request, @Res() r: Response) {
    // A key limited to collections sees only those names (the others' existence is not its business).
    const p = stateOf(q).principal;
    await this.run(q, r, async (ctx, db) =>
      (await C.listCollections(ctx, db)).filter((name) => p === undefined || mayUseCollection(p, db, name)),
    );
  }
  @Post('collections/has')
  @HttpCode(200)
  @RequireScope('collections:read')
  async hasCollection(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.hasCollection);
  }
  @Post('collections/drop')
  @HttpCode(200)
  @RequireScope('collections:write')
  async dropCollection(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.dropCollection);
  }
  @Post('collections/get_stats')
  @HttpCode(200)
  @RequireScope('collections:read')
  async getCollectionStats(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.getCollectionStats);
  }
  @Post('collections/load')
  @HttpCode(200)
  @RequireScope('collections:write')
  async load(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.loadCollection);
  }
  @Post('collections/release')
  @HttpCode(200)
  @RequireScope('collections:write')
  async release(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.releaseCollection);
  }
  @Post('collections/flush')
  @HttpCode(200)
  @RequireScope('collections:write')
  async flush(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.flushCollection);
  }
  @Post('collections/get_load_state')
  @HttpCode(200)
  @RequireScope('collections:read')
  async getLoadState(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.getLoadState);
  }

  // indexes
  @Post('indexes/create')
  @HttpCode(200)
  @RequireScope('collections:write')
  async createIndex(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.createIndex);
  }
  @Post('indexes/list')
  @HttpCode(200)
  @RequireScope('collections:read')
  async listIndexes(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.listIndexes);
  }

  // partitions
  @Post('partitions/create')
  @HttpCode(200)
  @RequireScope('collections:write')
  async createPartition(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.createPartition);
  }
  @Post('partitions/list')
  @HttpCode(200)
  @RequireScope('collections:read')
  async listPartitions(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.listPartitions);
  }
  @Post('partitions/has')
  @HttpCode(200)
  @RequireScope('collections:read')
  async hasPartition(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.hasPartition);
  }
  @Post('partitions/drop')
  @HttpCode(200)
  @RequireScope('collections:write')
  async dropPartition(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.dropPartition);
  }
  @Post('partitions/get_stats')
  @HttpCode(200)
  @RequireScope('collections:read')
  async getPartitionStats(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.getPartitionStats);
  }

  // databases (the database is named by the body, not resolved first)
  @Post('databases/create')
  @HttpCode(200)
  @RequireScope('collections:write')
  async createDatabase(@Req() q: Request, @Res() r: Response) {
    assertDatabaseAccess(stateOf(q).principal, stateOf(q).dbName);
    await this.run(q, r, (ctx, _db, b) => C.createDatabase(ctx, b));
  }
  @Post('databases/list')
  @HttpCode(200)
  @RequireScope('collections:read')
  async listDatabases(@Req() q: Request, @Res() r: Response) {
    const p = stateOf(q).principal;
    assertDatabaseAccess(p);
    // A key limited to databases lists only those.
    const allowed = p?.databases ?? [];
    await this.run(q, r, async (ctx) =>
      (await C.listDatabases(ctx)).filter((d) => allowed.length === 0 || allowed.includes(d)),
    );
  }
  @Post('databases/drop')
  @HttpCode(200)
  @RequireScope('collections:write')
  async dropDatabase(@Req() q: Request, @Res() r: Response) {
    assertDatabaseAccess(stateOf(q).principal, stateOf(q).dbName);
    await this.run(q, r, (ctx, _db, b) => C.dropDatabase(ctx, b));
  }

  // entities
  @Post('entities/insert')
  @HttpCode(200)
  @RequireScope('collections:write')
  async insert(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, insertRows);
  }
  @Post('entities/query')
  @HttpCode(200)
  @RequireScope('collections:read')
  async query(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.queryEntities);
  }
  @Post('entities/get')
  @HttpCode(200)
  @RequireScope('collections:read')
  async get(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.getEntities);
  }
  @Post('entities/delete')
  @HttpCode(200)
  @RequireScope('collections:write')
  async delete(@Req() q: Request, @Res() r: Response) {
    await this.run(q, r, C.deleteEntities);
  }
}

/** entities/insert: rows validated by the one schema model (libs/schema), then inserted all-or-nothing. */
async function insertRows(ctx: C.CollectionsContext, db: string, body: Record<string, unknown>): Promise<unknown> {
  const missing = ['collectionName', 'data'].filter((k) => body[k] === undefined);
  if (missing.length > 0) {
    throw new C.CollectionsError(
      C.CollectionsErrorCode.MissingParameter,
      `missing required parameters: ${missing.join(', ')}`,
    );
  }
  if (typeof body.collectionName !== 'string') {
    throw new C.CollectionsError(
      C.CollectionsErrorCode.InvalidParameter,
      'invalid parameter: collectionName must be a string',
    );
  }
  const data = Array.isArray(body.data) ? body.data : [body.data];
  const def = await C.getCollection(ctx, db, body.collectionName);
  let rows;
  try {
    rows = rowsToBatch(def.schema, data);
  } catch (e) {
    if (e instanceof SchemaError) {
      throw new C.CollectionsError(C.CollectionsErrorCode.InsertRejected, `fail to deal the insert data: ${e.message}`);
    }
    throw e;
  }
  const partitionName = typeof body.partitionName === 'string' ? body.partitionName : undefined;
  return C.insertEntities(ctx, db, {
    collectionName: body.collectionName,
    ...(partitionName === undefined ? {} : { partitionName }),
    rows,
  });
}
