import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppConfig } from '@gw/config';
import type { VolumeRecord, VolumesRepository } from '@gw/db';
import {
  type ClosableObjectSource,
  isStorageError,
  type ObjectLocation,
  type ObjectSourceDeps,
  type ObjectStat,
  type ObjectWriter,
  openLocalSource,
  openLocalWriter,
  openObjectSource,
  openObjectWriter,
  parseObjectLocation,
  presignS3Put,
  StorageError,
  StorageErrorCode,
  type StorageConfig,
} from '@gw/storage';
import { checkVolumeName, checkVolumePath, parseVolumeUrl, volumeUrl } from './volume-paths';
import { VolumesError, volumesErrors } from './volumes.errors';

/** What the routes answer about a volume (Zilliz describe/list fields plus where it lives). */
export interface VolumeView {
  volumeName: string;
  type: 'MANAGED';
  status: 'RUNNING';
  backend: string;
  createTime: string;
  projectId?: string;
  regionId?: string;
  /** Describe only: counted by listing the backend. */
  fileCount?: number;
  totalBytes?: number;
}

export interface VolumeFile {
  path: string;
  size: number;
  lastModified?: string;
}

export interface UploadResult {
  volumeName: string;
  path: string;
  size: number;
  sha256: string;
}

export const MAX_FILES_PAGE_SIZE = 1000;

type VolumesConfig = Pick<AppConfig, 'volumes' | 'storage'>;

/**
 * Volumes (storage.md §7): which volumes exist is in PostgreSQL (`volumes`), their files in the
 * backend named by the volume's row — a directory under VOLUMES_DIR, or a prefix of the
 * VOLUMES_URL bucket — read and written with the server's own credentials only. A row keeps the
 * backend it was created with, so changing VOLUMES_DIR/VOLUMES_URL affects new volumes only.
 */
export class VolumeStore {
  /** Provider of VOLUMES_URL, or 'local'. */
  private readonly backend: 'local' | 's3' | 'gcs' | 'azure';

  /** Throws (at start) when VOLUMES_URL names a place volumes cannot be written to. */
  constructor(
    private readonly repo: VolumesRepository,
    private readonly config: VolumesConfig,
    private readonly deps: ObjectSourceDeps = {},
  ) {
    const url = config.volumes.url;
    if (url === undefined) {
      this.backend = 'local';
      return;
    }
    const provider = parseObjectLocation(url, this.config.storage).provider;
    if (provider !== 's3' && provider !== 'gcs' && provider !== 'azure') {
      throw new Error(
        `VOLUMES_URL: volumes can live in S3 / S3-compatible, GCS or Azure buckets, not ${provider} (${url})`,
      );
    }
    this.backend = provider;
  }

  async create(input: { volumeName: unknown; projectId?: string; regionId?: string }): Promise<VolumeView> {
    const name = checkVolumeName(input.volumeName);
    const { url, dir } = this.config.volumes;
    const backend = this.backend;
    const location = url === undefined ? join(dir, name) : `${url}${name}/`;
    if (backend === 'local') await mkdir(location, { recursive: true });
    const rec = await this.repo.create({
      name,
      backend,
      location,
      projectId: input.projectId ?? null,
      regionId: input.regionId ?? null,
    });
    if (rec === null) throw volumesErrors.exists(name);
    return view(rec);
  }

  async list(page: { current: number; size: number }): Promise<{ count: number; volumes: VolumeView[] }> {
    const r = await this.repo.list(page.size, (page.current - 1) * page.size);
    return { count: r.count, volumes: r.volumes.map(view) };
  }

  async describe(volumeName: unknown): Promise<VolumeView> {
    const rec = await this.record(volumeName);
    let fileCount = 0;
    let totalBytes = 0;
    const source = this.sourceOf(rec);
    try {
      for await (const o of source.list('')) {
        fileCount++;
        totalBytes += o.size;
      }
    } catch (e) {
      throw this.backendError(e);
    } finally {
      source.close();
    }
    return { ...view(rec), fileCount, totalBytes };
  }

  /**
   * A presigned S3 PUT URL for one file of an S3 volume, when VOLUMES_PRESIGN_TTL_SECONDS > 0 and
   * static server keys are configured; undefined otherwise (the gateway's upload route is the way).
   * Such an upload bypasses VOLUMES_MAX_FILE_BYTES and the answer's checksum; imports still apply
   * IMPORT_MAX_FILE_BYTES.
   */
  async presignedUpload(volumeName: unknown, path: string): Promise<{ url: string; expiresAt: Date } | undefined> {
    const rec = await this.record(volumeName);
    const ttl = this.config.volumes.presignTtlSeconds;
    if (rec.backend !== 's3' || ttl <= 0 || path === '' || path.endsWith('/')) return undefined;
    const key = checkVolumePath(path, 'refused');
    const { loc, config } = this.bucketOf(rec);
    return presignS3Put(loc, loc.key + key, config, ttl);
  }

  /** A volume's row only (no listing of its files). */
  async describeShallow(volumeName: unknown): Promise<VolumeView> {
    return view(await this.record(volumeName));
  }

  async exists(volumeName: string): Promise<boolean> {
    return (await this.repo.find(volumeName)) !== null;
  }

  /** Refused while a Pending/Importing job names the volume; its files go first, then its row. */
  async delete(volumeName: unknown): Promise<void> {
    const name = checkVolumeName(volumeName);
    const rec = await this.repo.find(name);
    if (rec === null) throw volumesErrors.notFound(name);
    const result = await this.repo.deleteUnlessInUse(name, async () => {
      const writer = await this.writerOf(rec);
      try {
        await writer.deletePrefix('');
      } catch (e) {
        throw this.backendError(e);
      } finally {
        writer.close();
      }
    });
    if (result === 'not-found') throw volumesErrors.notFound(name);
    if (result === 'in-use') throw volumesErrors.inUse(name);
  }

  /**
   * Streams an upload into the volume: never held whole in memory, refused beyond
   * VOLUMES_MAX_FILE_BYTES (a declared length first, then the bytes as they come, the partial
   * file removed), visible only once complete. Answers size and SHA-256.
   */
  async putFile(
    volumeName: unknown,
    path: unknown,
    body: AsyncIterable<Uint8Array>,
    declaredLength?: number,
  ): Promise<UploadResult> {
    const rec = await this.record(volumeName);
    const key = checkVolumePath(path, 'refused');
    const max = this.config.volumes.maxFileBytes;
    if (declaredLength !== undefined && declaredLength > max) throw volumesErrors.tooLarge(max);
    const hash = createHash('sha256');
    async function* limited(): AsyncIterable<Uint8Array> {
      let n = 0;
      for await (const chunk of body) {
        n += chunk.length;
        if (n > max) throw volumesErrors.tooLarge(max);
        hash.update(chunk);
        yield chunk;
      }
    }
    const writer = await this.writerOf(rec);
    try {
      const { size } = await writer.put(key, limited());
      return { volumeName: rec.name, path: key, size, sha256: hash.digest('hex') };
    } catch (e) {
      throw this.backendError(e, key);
    } finally {
      writer.close();
    }
  }

  /**
   * One page of files under `prefix`, in path order. Paging is by continuation token (the last
   * path of the previous page): stable while files are added, unlike page numbers.
   */
  async listFiles(
    volumeName: unknown,
    q: { prefix?: string; pageSize?: number; pageToken?: string },
  ): Promise<{ files: VolumeFile[]; nextPageToken?: string }> {
    const rec = await this.record(volumeName);
    const prefix = q.prefix === undefined || q.prefix === '' ? '' : checkVolumePath(q.prefix, 'allowed', 'prefix');
    const size = Math.min(q.pageSize ?? MAX_FILES_PAGE_SIZE, MAX_FILES_PAGE_SIZE);
    if (size < 1) throw volumesErrors.invalid('pageSize must be at least 1');
    const after = q.pageToken === undefined || q.pageToken === '' ? undefined : decodeToken(q.pageToken);
    const files: VolumeFile[] = [];
    const source = this.sourceOf(rec);
    try {
      for await (const o of source.list(prefix)) {
        if (after !== undefined && o.key <= after) continue;
        if (files.length === size) {
          return { files, nextPageToken: encodeToken(files[files.length - 1]!.path) };
        }
        files.push(fileOf(o));
      }
    } catch (e) {
      throw this.backendError(e);
    } finally {
      source.close();
    }
    return { files };
  }

  async deleteFile(volumeName: unknown, path: unknown): Promise<void> {
    const rec = await this.record(volumeName);
    const key = checkVolumePath(path, 'refused');
    const writer = await this.writerOf(rec);
    let removed: boolean;
    try {
      removed = await writer.delete(key);
    } catch (e) {
      throw this.backendError(e, key);
    } finally {
      writer.close();
    }
    if (!removed) throw volumesErrors.fileNotFound(rec.name, key);
  }

  /**
   * The worker's view of a `volume://<name>/<path>` a job stores: a source over the volume and
   * the key inside it. The caller closes the source.
   */
  async openForImport(url: string): Promise<{ source: ClosableObjectSource; key: string; isFolder: boolean }> {
    const { name, path } = parseVolumeUrl(url);
    const rec = await this.repo.find(name);
    if (rec === null) throw volumesErrors.notFound(name);
    const key = checkVolumePath(path, 'allowed');
    return { source: this.sourceOf(rec), key, isFolder: key.endsWith('/') };
  }

  private async record(volumeName: unknown): Promise<VolumeRecord> {
    const name = checkVolumeName(volumeName);
    const rec = await this.repo.find(name);
    if (rec === null) throw volumesErrors.notFound(name);
    return rec;
  }

  /**
   * A bucket volume's location and the storage config to open it with: the volume bucket is the
   * operator's own, so the server's credentials always apply to it (storage.md §7), whatever
   * STORAGE_ALLOWED_BUCKETS lends them to for callers' buckets (§4).
   */
  private bucketOf(rec: VolumeRecord): { loc: ObjectLocation; config: StorageConfig } {
    const loc = parseObjectLocation(rec.location, this.config.storage);
    const scheme = loc.provider === 'gcs' ? 'gs' : loc.provider;
    const own = loc.provider === 'azure' ? `azure://${loc.account ?? ''}/${loc.bucket}` : `${scheme}://${loc.bucket}`;
    return { loc, config: { ...this.config.storage, allowedBuckets: [own] } };
  }

  private sourceOf(rec: VolumeRecord): ClosableObjectSource {
    const display = (key: string) => volumeUrl(rec.name, key);
    if (rec.backend === 'local') return openLocalSource(rec.location, display);
    const { loc, config } = this.bucketOf(rec);
    return prefixed(openObjectSource(loc, undefined, config, this.deps), loc.key, {
      from: loc.display,
      to: volumeUrl(rec.name, ''),
    });
  }

  private async writerOf(rec: VolumeRecord): Promise<ObjectWriter> {
    const display = (key: string) => volumeUrl(rec.name, key);
    if (rec.backend === 'local') return openLocalWriter(rec.location, display);
    const { loc, config } = this.bucketOf(rec);
    return openObjectWriter(loc, config, this.deps);
  }

  private backendError(e: unknown, path?: string): unknown {
    if (e instanceof VolumesError) return e;
    if (isStorageError(e)) {
      switch (e.code) {
        case StorageErrorCode.InvalidUrl:
        case StorageErrorCode.BadRequest:
          return volumesErrors.invalid(`path ${JSON.stringify(path ?? '')}: ${e.message}`);
        case StorageErrorCode.AccessDenied:
          // Locally: a symlink leading out of the volume.
          return volumesErrors.invalid(`path ${JSON.stringify(path ?? '')} leaves the volume`);
        default:
          return volumesErrors.backend(e.message, e);
      }
    }
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return volumesErrors.backend(code, e);
    return e;
  }
}

function view(r: VolumeRecord): VolumeView {
  return {
    volumeName: r.name,
    type: 'MANAGED',
    status: 'RUNNING',
    backend: r.backend,
    createTime: r.createdAt.toISOString(),
    ...(r.projectId === null ? {} : { projectId: r.projectId }),
    ...(r.regionId === null ? {} : { regionId: r.regionId }),
  };
}

function fileOf(o: ObjectStat): VolumeFile {
  return {
    path: o.key,
    size: o.size,
    ...(o.lastModified === undefined ? {} : { lastModified: o.lastModified.toISOString() }),
  };
}

function encodeToken(path: string): string {
  return Buffer.from(path, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw volumesErrors.invalid('pageToken is not a token this gateway gave');
  return Buffer.from(token, 'base64url').toString('utf8');
}

/**
 * A bucket source seen from inside a volume: keys relative to the volume's prefix, and messages
 * naming `volume://<name>/<path>` instead of the gateway's own bucket and prefix.
 */
function prefixed(
  inner: ClosableObjectSource,
  prefix: string,
  rename: { from: string; to: string },
): ClosableObjectSource {
  const strip = (s: ObjectStat): ObjectStat => ({ ...s, key: s.key.slice(prefix.length) });
  const renamed = (e: unknown): unknown =>
    isStorageError(e)
      ? new StorageError(e.code, e.message.split(rename.from).join(rename.to), {
          retryable: e.retryable,
          details: { ...e.details },
        })
      : e;
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw renamed(e);
    }
  };
  return {
    close: () => inner.close(),
    stat: (key, signal) => guard(async () => strip(await inner.stat(prefix + key, signal))),
    async *list(p, signal) {
      try {
        for await (const s of inner.list(prefix + p, signal)) {
          const k = s.key.slice(prefix.length);
          // Hidden names are uploads in progress or foreign files: never listed (as locally).
          if (k.split('/').some((seg) => seg.startsWith('.'))) continue;
          yield strip(s);
        }
      } catch (e) {
        throw renamed(e);
      }
    },
    readRange: (key, start, end, signal) => guard(() => inner.readRange(prefix + key, start, end, signal)),
    async *stream(key, from, signal) {
      try {
        yield* inner.stream(prefix + key, from, signal);
      } catch (e) {
        throw renamed(e);
      }
    },
  };
}
