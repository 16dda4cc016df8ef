import type { AppConfig } from '@gw/config';
import type { ImportSchedulesRepository, ScheduleRow } from '@gw/db';
import {
  groupObjects,
  type ObjectSourceDeps,
  type ObjectStat,
  openObjectSource,
  parseObjectLocation,
  type StorageCredentials,
} from '@gw/storage';
import type { CreateImportJob } from '../import/create-import-job.usecase';
import type { CredentialsCipher } from '../import/credentials-cipher';
import { isLoaded } from '../import/skip-imported';
import { JobsError, JobsErrorCode } from '../jobs.errors';

export type TickOutcome =
  | { kind: 'gone' }
  | { kind: 'locked' }
  | { kind: 'busy'; jobId: string | null }
  | { kind: 'nothing-new' }
  | { kind: 'created'; jobId: string; files: number; replayed: boolean }
  | { kind: 'cap-reached' }
  | { kind: 'error'; message: string };

/**
 * One tick of a schedule (decision 1402): lists the folder, leaves out what the file ledger holds
 * at the same version, and admits one job with the rest (up to IMPORT_MAX_FILE_GROUPS groups, under
 * the same per-collection cap as any create). Nothing new: no job. A tick runs under the schedule's
 * lock and creates nothing while the schedule's last job is still active (its objects are not in
 * the ledger yet and would be loaded twice). The tick number (time / interval) is the idempotency
 * key of the create, so two workers handed the same tick admit one job.
 */
export class RunScheduleTick {
  constructor(
    private readonly repo: ImportSchedulesRepository,
    private readonly create: Pick<CreateImportJob, 'execute'>,
    private readonly cipher: CredentialsCipher,
    private readonly config: Pick<AppConfig, 'storage' | 'import'>,
    private readonly storageDeps: ObjectSourceDeps = {},
  ) {}

  async execute(scheduleId: string, at: number = Date.now()): Promise<TickOutcome> {
    const s = await this.repo.find(scheduleId);
    if (s === null) return { kind: 'gone' };
    const tick = Math.floor(at / s.intervalMs);
    const outcome = await this.repo.withTickLock(s.id, () => this.tickLocked(s, tick));
    return outcome ?? { kind: 'locked' };
  }

  private async tickLocked(s: ScheduleRow, tick: number): Promise<TickOutcome> {
    if (await this.repo.hasActiveJob(s.id)) {
      await this.repo.recordTick(s.id, tick, 'busy: the last job is still running');
      return { kind: 'busy', jobId: s.lastJobId };
    }
    const stored = s.sealed === null ? undefined : this.cipher.open(s.sealed);
    let outcome: TickOutcome;
    try {
      const groups = await this.newGroups(s, stored);
      if (groups.length === 0) {
        outcome = { kind: 'nothing-new' };
      } else {
        const body = {
          collectionName: s.collectionName,
          ...(s.partitionName === null ? {} : { partitionName: s.partitionName }),
          objectUrls: groups,
          ...(stored?.accessKey === undefined ? {} : { accessKey: stored.accessKey }),
          ...(stored?.secretKey === undefined ? {} : { secretKey: stored.secretKey }),
          ...(stored?.token === undefined ? {} : { token: stored.token }),
          // The job checks the ledger again when it plans (decision 1401).
          options: { ...s.options, skip_imported: 'true' },
        };
        const r = await this.create.execute({
          dbName: s.dbName,
          body,
          idempotencyKey: `schedule:${s.scheduleId}:${tick}`,
        });
        outcome = { kind: 'created', jobId: r.jobId, files: groups.length, replayed: r.replayed };
      }
    } catch (e) {
      if (e instanceof JobsError && e.code === JobsErrorCode.ActiveJobLimit) outcome = { kind: 'cap-reached' };
      else outcome = { kind: 'error', message: e instanceof Error ? e.message : String(e) };
    }
    await this.repo.recordTick(s.id, tick, resultText(outcome), outcome.kind === 'created' ? outcome.jobId : undefined);
    return outcome;
  }

  /** The folder's file groups (spec §3 expansion) with an object not in the ledger at its version. */
  private async newGroups(s: ScheduleRow, stored: StorageCredentials | undefined): Promise<string[][]> {
    const loc = parseObjectLocation(s.folderUrl, this.config.storage);
    const source = openObjectSource(loc, stored, this.config.storage, this.storageDeps);
    try {
      const stats: ObjectStat[] = [];
      for await (const o of source.list(loc.key)) stats.push(o);
      const units = groupObjects(stats).map((g) =>
        g.objects.map((o) => ({ display: s.folderUrl + o.key.slice(loc.key.length), stat: o })),
      );
      const loaded = await this.repo.loadedObjects(
        s.id,
        units.flatMap((u) => u.map((i) => i.display)),
      );
      return units
        .filter((u) => !u.every((i) => isLoaded(i.stat, i.display, loaded)))
        .slice(0, this.config.import.maxFileGroups)
        .map((u) => u.map((i) => i.display));
    } finally {
      source.close();
    }
  }
}

function resultText(o: TickOutcome): string {
  switch (o.kind) {
    case 'created':
      return `created ${o.jobId} with ${o.files} file group(s)`;
    case 'nothing-new':
      return 'nothing new';
    case 'cap-reached':
      return 'no job: the collection has the maximum number of active jobs';
    case 'error':
      return `error: ${o.message.slice(0, 500)}`;
    default:
      return o.kind;
  }
}
