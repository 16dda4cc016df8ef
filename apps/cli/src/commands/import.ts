import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { z } from 'zod';
import { CliError, CliErrorCode, usageError } from '../cli.errors';
import { type CliContext, println, withDb } from '../context';
import { formatBytes } from '../progress';
import { waitForJob } from './wait';

export const DEFAULT_VOLUME = 'uploads';

export interface ImportOptions {
  collection: string;
  sources: string[];
  wait: boolean;
  intervalMs: number;
  partition?: string | undefined;
  volume?: string | undefined;
  /** Folder inside the volume the local files go to; default a fresh `cli/<collection>/<time>-<random>`. */
  prefix?: string | undefined;
  options: Record<string, string>;
  idempotencyKey?: string | undefined;
}

/** `s3://…`, `gs://…`, `https://…`: given to the gateway as is (objectUrls). */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

interface LocalFile {
  file: string;
  size: number;
  remote: string;
}

/**
 * `import <collection> <source…>`: URLs become objectUrls groups; local files and folders are
 * uploaded into a volume (created if missing) and imported by volumeName + dataPaths, one group per
 * argument (a folder is one group, expanded by the gateway as for buckets). Prints the job id, or
 * with --wait the live progress and the outcome.
 */
export async function importCommand(ctx: CliContext, o: ImportOptions): Promise<void> {
  if (o.sources.length === 0) throw usageError('import needs at least one URL or local file');
  const urls = o.sources.filter((s) => URL_LIKE.test(s));
  if (urls.length > 0 && urls.length < o.sources.length) {
    throw usageError('give either URLs or local files in one import, not both (a job reads from one place)');
  }
  const request: Record<string, unknown> = withDb(ctx, { collectionName: o.collection });
  if (o.partition !== undefined) request.partitionName = o.partition;
  if (Object.keys(o.options).length > 0) request.options = o.options;
  if (urls.length > 0) {
    request.objectUrls = urls.map((u) => [u]);
  } else {
    const volume = o.volume ?? DEFAULT_VOLUME;
    const prefix = (o.prefix ?? defaultPrefix(o.collection, o.idempotencyKey)).replace(/^\/+|\/+$/g, '');
    const { groups, files } = planUploads(o.sources, prefix);
    await ensureVolume(ctx, volume);
    for (const f of files) {
      const t0 = Date.now();
      const r = await ctx.client().upload(volume, f.remote, f.file, f.size, uploadMeter(ctx, f, t0));
      const secs = Math.max(0.001, (Date.now() - t0) / 1000);
      if (ctx.stderr.isTTY === true) ctx.stderr.write('\r\x1b[K');
      ctx.stderr.write(
        `uploaded ${f.file} → ${volume}:${f.remote} (${formatBytes(r.size)}, ${formatBytes(r.size / secs)}/s, sha256 ${r.sha256.slice(0, 12)}…)\n`,
      );
    }
    request.volumeName = volume;
    request.dataPaths = groups;
  }
  const headers: Record<string, string> = o.idempotencyKey === undefined ? {} : { 'Idempotency-Key': o.idempotencyKey };
  const data = await ctx.client().call('/v2/vectordb/jobs/import/create', request, { headers });
  const created = z.object({ jobId: z.string() }).safeParse(data);
  if (!created.success) throw new CliError(CliErrorCode.Api, 'the gateway answered create without a jobId');
  const jobId = created.data.jobId;
  if (!o.wait) return println(ctx.stdout, jobId);
  println(ctx.stdout, `created ${jobId} (collection ${o.collection})`);
  await waitForJob(ctx, jobId, o.intervalMs);
}

/**
 * A fresh folder per import, so a second import of a file with the same name never replaces the
 * one a running job reads. With an Idempotency-Key the folder follows the key instead: a retried
 * import then sends the same dataPaths, which the gateway needs to replay the original job.
 */
/** On a terminal, a redrawn `uploading …` line (at most every 200 ms); elsewhere nothing. */
function uploadMeter(ctx: CliContext, f: LocalFile, t0: number): (sent: number) => void {
  if (ctx.stderr.isTTY !== true) return () => undefined;
  let last = 0;
  return (sent) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    const rate = sent / Math.max(0.001, (now - t0) / 1000);
    const pct = f.size === 0 ? 100 : Math.floor((100 * sent) / f.size);
    ctx.stderr.write(
      `\r\x1b[Kuploading ${f.file}  ${pct}%  ${formatBytes(sent)} / ${formatBytes(f.size)}  ${formatBytes(rate)}/s`,
    );
  };
}

function defaultPrefix(collection: string, idempotencyKey: string | undefined): string {
  if (idempotencyKey !== undefined) {
    return `cli/${collection}/key-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 16)}`;
  }
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `cli/${collection}/${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Which files to upload where, and the dataPaths groups that import them. */
export function planUploads(sources: readonly string[], prefix: string): { groups: string[][]; files: LocalFile[] } {
  const groups: string[][] = [];
  const files: LocalFile[] = [];
  const taken = new Set<string>();
  for (const source of sources) {
    let st;
    try {
      st = statSync(source);
    } catch {
      throw usageError(`no such file or folder: ${source}`);
    }
    const name = basename(source);
    if (taken.has(name)) throw usageError(`two sources are named ${name}; import them separately or rename one`);
    taken.add(name);
    const base = prefix === '' ? name : `${prefix}/${name}`;
    if (st.isDirectory()) {
      const inside = walk(source);
      if (inside.length === 0) throw usageError(`folder ${source} holds no files`);
      for (const file of inside) {
        files.push({
          file,
          size: statSync(file).size,
          remote: `${base}/${relative(source, file).split(sep).join('/')}`,
        });
      }
      groups.push([`${base}/`]);
    } else if (st.isFile()) {
      files.push({ file: source, size: st.size, remote: base });
      groups.push([base]);
    } else {
      throw usageError(`not a regular file or folder: ${source}`);
    }
  }
  return { groups, files };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * Creates the volume unless it exists. Create first and describe only when create is refused, so
 * it works whatever code the gateway gives for "already exists", and two CLIs racing both succeed.
 */
async function ensureVolume(ctx: CliContext, volume: string): Promise<void> {
  try {
    await ctx.client().call('/v2/volumes/create', { volumeName: volume });
    ctx.stderr.write(`created volume ${volume}\n`);
  } catch (createError) {
    if (!(createError instanceof CliError) || createError.code !== CliErrorCode.Api) throw createError;
    try {
      await ctx.client().call(`/v2/volumes/${encodeURIComponent(volume)}`, {}, { method: 'GET' });
    } catch {
      throw createError;
    }
  }
}
