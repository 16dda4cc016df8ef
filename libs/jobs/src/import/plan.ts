import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '@gw/config';
import type { JobFileRow } from '@gw/db';
import { type ByteInput, byteInputFromFile, type FileFormat, formatOf } from '@gw/formats';
import {
  assertFileSize,
  type ClosableObjectSource,
  expandFolder,
  type ObjectSource,
  type ObjectSourceDeps,
  type ObjectStat,
  openObjectSource,
  parseObjectLocation,
  type StorageCredentials,
} from '@gw/storage';
import { objectInput } from './object-input';

/** Opens the `volume://<name>/<path>` a volume job stores (VolumeStore.openForImport). */
export interface VolumeSources {
  openForImport(url: string): Promise<{ source: ClosableObjectSource; key: string; isFolder: boolean }>;
}

/** One reader's worth of objects: a single file, or the .npy files of a NumPy group. */
export interface PlannedUnit {
  format: FileFormat;
  inputs: { source: ObjectSource; stat: ObjectStat; display: string }[];
}

/** One file group of the request (a folder expands into several units). */
export interface PlannedGroup {
  row: JobFileRow;
  units: PlannedUnit[];
  bytes: number;
}

/** A job-level problem found while planning (empty folder, too many groups): bad input, no retry. */
export class PlanError extends Error {}

export interface PlanContext {
  creds: StorageCredentials | undefined;
  /** Signed URLs of the request, by the URL the job stores. */
  signed: Record<string, string>;
  config: Pick<AppConfig, 'storage' | 'import'>;
  storageDeps?: ObjectSourceDeps;
  signal: AbortSignal;
  /** Every source opened is added here, so the caller closes them (sockets, credentials in memory). */
  sources: ClosableObjectSource[];
  /** Volumes of this gateway; absent in processes that cannot read them. */
  volumes?: VolumeSources;
}

/** Stats every object (expanding folders) before reading, so size limits fail early and progress has a total. */
export async function planGroups(files: readonly JobFileRow[], ctx: PlanContext): Promise<PlannedGroup[]> {
  const cfg = ctx.config;
  const open = async (url: string): Promise<{ key: string; source: ClosableObjectSource }> => {
    if (url.startsWith('volume://')) {
      // A volume is one more ObjectSource (local files or the volume bucket, server credentials).
      if (ctx.volumes === undefined) throw new PlanError(`volumes cannot be read by this worker: ${url}`);
      const v = await ctx.volumes.openForImport(url);
      ctx.sources.push(v.source);
      return v;
    }
    const loc = parseObjectLocation(ctx.signed[url] ?? url, cfg.storage);
    const source = openObjectSource(loc, ctx.creds, cfg.storage, ctx.storageDeps);
    ctx.sources.push(source);
    return { key: loc.key, source };
  };
  const out: PlannedGroup[] = [];
  let unitCount = 0;
  for (const row of files) {
    const units: PlannedUnit[] = [];
    if (row.isFolder) {
      const url = row.urls[0]!;
      const { key: folderKey, source } = await open(url);
      const groups = await expandFolder(source, folderKey, url, {
        maxGroups: cfg.import.maxFileGroups - unitCount,
        signal: ctx.signal,
      });
      for (const g of groups) {
        const inputs = [];
        for (const o of g.objects) {
          const display = url + o.key.slice(folderKey.length);
          assertFileSize(o, cfg.import.maxFileBytes, display);
          inputs.push({ source, stat: await source.stat(o.key, ctx.signal), display });
        }
        units.push({ format: formatOf(inputs.map((i) => i.display)), inputs });
      }
    } else {
      const inputs = [];
      for (const url of row.urls) {
        const { key, source } = await open(url);
        const stat = await source.stat(key, ctx.signal);
        assertFileSize(stat, cfg.import.maxFileBytes, url);
        inputs.push({ source, stat, display: url });
      }
      units.push({ format: formatOf(row.urls), inputs });
    }
    unitCount += units.length;
    if (unitCount > cfg.import.maxFileGroups) {
      throw new PlanError(`too many file groups: more than ${cfg.import.maxFileGroups} after folder expansion`);
    }
    out.push({ row, units, bytes: units.reduce((a, u) => a + u.inputs.reduce((b, i) => b + i.stat.size, 0), 0) });
  }
  return out;
}

/** The object versions a group was planned with, by display name (recorded for operators). */
export function versionsOf(g: PlannedGroup): Record<string, string> {
  return Object.fromEntries(g.units.flatMap((u) => u.inputs.map((i) => [i.display, i.stat.version])));
}

/**
 * The readers' inputs of one unit. A server that ignores Range (storage.md §2) cannot serve the
 * ranged reads Parquet and NumPy need: such an object is read once into a private spool file,
 * removed by the returned `cleanup` (and by sweepSpoolFiles after a crash).
 */
export async function openUnitInputs(
  u: PlannedUnit,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<{ inputs: ByteInput[]; cleanup: () => Promise<void> }> {
  const spooled: string[] = [];
  const cleanup = async () => {
    await Promise.all(spooled.map((p) => rm(p, { force: true })));
  };
  try {
    const inputs: ByteInput[] = [];
    for (const i of u.inputs) {
      if (i.stat.rangeReads === false && (u.format === 'parquet' || u.format === 'numpy')) {
        const path = await spoolToFile(i.source, i.stat, signal, onBytes);
        spooled.push(path);
        inputs.push(await byteInputFromFile(path, i.display));
      } else {
        inputs.push(objectInput(i.source, i.stat, i.display, signal, onBytes));
      }
    }
    return { inputs, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

const SPOOL_PREFIX = 'igw-spool-';

async function spoolToFile(
  source: ObjectSource,
  stat: ObjectStat,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<string> {
  const path = join(tmpdir(), `${SPOOL_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
  const out = createWriteStream(path, { mode: 0o600 });
  try {
    for await (const chunk of source.stream(stat.key, 0, signal)) {
      onBytes(chunk.length);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return path;
  } catch (e) {
    out.destroy();
    await rm(path, { force: true });
    throw e;
  }
}

/**
 * Removes spool files left by processes that no longer run (a worker killed mid-spool). Files of
 * live processes (this one included) stay: the pid is in the name.
 */
export async function sweepSpoolFiles(dir = tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = new RegExp(`^${SPOOL_PREFIX}(\\d+)-[0-9a-f]{16}$`).exec(name);
    if (m === null) continue;
    if (processAlive(Number(m[1]))) continue;
    await rm(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}
