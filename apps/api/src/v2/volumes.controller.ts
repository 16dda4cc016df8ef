import { Controller, Delete, Get, HttpCode, Inject, Post, Put, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { MAX_PAGE_SIZE } from '@gw/jobs';
import { checkVolumePath, VolumeStore, volumesErrors } from '@gw/volumes';
import { assertVolumeAccess, RequireScope } from '../http/auth.guard';
import { intField, stringField } from '../http/body';
import { UnbufferedBody } from '../http/raw-body.middleware';
import { stateOf } from '../http/request-context';

/**
 * The file path of a `/v2/volumes/<name>/files/<path>` URL, taken from the raw URL one segment at
 * a time: an encoded `/` (%2F) inside a segment is refused rather than decoded into a separator,
 * and `..` segments reach the path rules instead of being resolved away by anyone.
 */
export function filePathOf(req: Request): string {
  const raw = req.originalUrl.split('?')[0]!;
  const m = /^\/v2\/volumes\/[^/]+\/files\/(.*)$/s.exec(raw);
  if (m === null) throw volumesErrors.missing(['path']);
  const segments = m[1]!.split('/').map((s) => {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw volumesErrors.invalid('path has bad percent-encoding');
    }
    if (d.includes('/')) throw volumesErrors.invalid('path segments cannot contain an encoded "/"');
    return d;
  });
  return segments.join('/');
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function volumeNameOf(req: Request): string {
  const raw = req.params.volumeName;
  if (typeof raw !== 'string' || raw === '') throw volumesErrors.missing(['volumeName']);
  return raw;
}

/**
 * Volumes (storage.md §7): the management routes as the Zilliz SDKs' VolumeManager calls them,
 * and the gateway's file routes. Every route needs an unrestricted key (assertVolumeAccess).
 */
@Controller('v2/volumes')
export class V2VolumesController {
  constructor(@Inject(VolumeStore) private readonly volumes: VolumeStore) {}

  @Post('create')
  @HttpCode(200)
  @RequireScope('volumes:write')
  async create(@Req() req: Request) {
    const s = stateOf(req);
    assertVolumeAccess(s.principal, 'volumes:write');
    const f = s.fields!;
    if (f.volumeName === undefined) throw volumesErrors.missing(['volumeName']);
    // projectId, regionId and type are Zilliz Cloud's: accepted, kept (ids), otherwise ignored.
    const projectId = stringField(f, 'projectId');
    const regionId = stringField(f, 'regionId');
    const v = await this.volumes.create({
      volumeName: f.volumeName,
      ...(projectId === undefined ? {} : { projectId }),
      ...(regionId === undefined ? {} : { regionId }),
    });
    return { code: 0, data: { volumeName: v.volumeName } };
  }

  @Post('apply')
  @HttpCode(200)
  @RequireScope('volumes:write')
  async apply(@Req() req: Request) {
    const s = stateOf(req);
    assertVolumeAccess(s.principal, 'volumes:write');
    const f = s.fields!;
    const name = f.volumeName;
    if (name === undefined) throw volumesErrors.missing(['volumeName']);
    const path = stringField(f, 'path') ?? '';
    if (path !== '') checkVolumePath(path, 'allowed');
    const v = await this.volumes.describeShallow(name);
    // Where to upload: this gateway's own route, authenticated with the caller's key. Never
    // storage credentials: the SDKs' direct-to-bucket upload (temporary keys) is not offered.
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    const uploadUrl = `${base}/v2/volumes/${encodeURIComponent(v.volumeName)}/files/${encodePath(path)}`;
    // S3 volumes with VOLUMES_PRESIGN_TTL_SECONDS: also a presigned PUT (a signature, not a key).
    const presigned = await this.volumes.presignedUpload(v.volumeName, path);
    return {
      code: 0,
      data: {
        volumeName: v.volumeName,
        path,
        uploadPath: path,
        uploadMethod: 'PUT',
        uploadUrl,
        ...(presigned === undefined
          ? {}
          : { presignedUrl: presigned.url, presignedExpireTime: presigned.expiresAt.toISOString() }),
      },
    };
  }

  @Get()
  @RequireScope('volumes:read')
  async list(@Req() req: Request) {
    const s = stateOf(req);
    assertVolumeAccess(s.principal, 'volumes:read');
    const f = s.fields!;
    const size = intField(f, 'pageSize') ?? 10;
    const current = intField(f, 'currentPage') ?? 1;
    if (size < 1) throw volumesErrors.invalid('pageSize must be at least 1');
    if (current < 1) throw volumesErrors.invalid('currentPage must be at least 1');
    const pageSize = Math.min(size, MAX_PAGE_SIZE);
    const r = await this.volumes.list({ current, size: pageSize });
    return { code: 0, data: { count: r.count, currentPage: current, pageSize, volumes: r.volumes } };
  }

  @Get(':volumeName')
  @RequireScope('volumes:read')
  async describe(@Req() req: Request) {
    assertVolumeAccess(stateOf(req).principal, 'volumes:read');
    return { code: 0, data: await this.volumes.describe(volumeNameOf(req)) };
  }

  @Delete(':volumeName')
  @HttpCode(200)
  @RequireScope('volumes:write')
  async remove(@Req() req: Request) {
    assertVolumeAccess(stateOf(req).principal, 'volumes:write');
    const name = volumeNameOf(req);
    await this.volumes.delete(name);
    return { code: 0, data: { volumeName: name } };
  }

  @Put(':volumeName/files/*path')
  @UnbufferedBody()
  @HttpCode(200)
  @RequireScope('volumes:write')
  async upload(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    assertVolumeAccess(stateOf(req).principal, 'volumes:write');
    const length = req.header('content-length');
    const declared = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    try {
      const r = await this.volumes.putFile(volumeNameOf(req), filePathOf(req), req, declared);
      return { code: 0, data: r };
    } catch (e) {
      // The client may still be sending: answer now and close instead of reading the rest.
      res.setHeader('Connection', 'close');
      throw e;
    }
  }

  @Get(':volumeName/files')
  @RequireScope('volumes:read')
  async files(@Req() req: Request) {
    const s = stateOf(req);
    assertVolumeAccess(s.principal, 'volumes:read');
    const f = s.fields!;
    const prefix = stringField(f, 'prefix');
    const pageSize = intField(f, 'pageSize');
    const pageToken = stringField(f, 'pageToken');
    const r = await this.volumes.listFiles(volumeNameOf(req), {
      ...(prefix === undefined ? {} : { prefix }),
      ...(pageSize === undefined ? {} : { pageSize }),
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    return { code: 0, data: r };
  }

  @Delete(':volumeName/files/*path')
  @HttpCode(200)
  @RequireScope('volumes:write')
  async removeFile(@Req() req: Request) {
    assertVolumeAccess(stateOf(req).principal, 'volumes:write');
    const name = volumeNameOf(req);
    const path = filePathOf(req);
    await this.volumes.deleteFile(name, path);
    return { code: 0, data: { volumeName: name, path } };
  }
}
