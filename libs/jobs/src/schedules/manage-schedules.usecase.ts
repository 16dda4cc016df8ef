import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type AppConfig, parseJobTimeout } from '@gw/config';
import type { ImportSchedulesRepository, ScheduleRow } from '@gw/db';
import type { CredentialsCipher } from '../import/credentials-cipher';
import { normalizeCreateRequest, readCreateHead, type RequestBody } from '../import/create-request';
import type { ImportCatalog } from '../import/import-catalog';
import { rfc3339 } from '../import/job-presenter';
import { jobsErrors } from '../jobs.errors';
import type { ScheduleQueue } from './schedule-queue';

export const SCHEDULE_ID_PATTERN = /^sched-[0-9a-f]{20}$/;
/** Shortest interval: a tick lists the folder, so sub-second ticks would only load the store. */
export const MIN_SCHEDULE_INTERVAL_MS = 1_000;

export interface CreateScheduleCommand {
  dbName: string;
  body: RequestBody;
  apiKeyId?: string;
  authorize?: (dbName: string, collectionName: string) => void;
}

/**
 * Scheduled imports (docs/api-extensions.md, decision 1402): create, list, describe, drop. A
 * schedule is a folder URL, a collection and an interval; the row in PostgreSQL is the schedule,
 * the BullMQ job scheduler only its clock (rebuilt by the workers when Redis lost it).
 */
export class ManageImportSchedules {
  private readonly log = new Logger('ImportSchedules');

  constructor(
    private readonly repo: ImportSchedulesRepository,
    private readonly catalog: ImportCatalog,
    private readonly queue: Pick<ScheduleQueue, 'upsert' | 'remove'>,
    private readonly cipher: CredentialsCipher,
    private readonly config: Pick<AppConfig, 'storage' | 'import'>,
  ) {}

  async create(cmd: CreateScheduleCommand): Promise<{ scheduleId: string }> {
    const head = readCreateHead(cmd.body);
    if (head.source !== 'objectUrl') {
      throw jobsErrors.invalid('a schedule reads one folder: give objectUrl (a URL ending with /)');
    }
    cmd.authorize?.(cmd.dbName, head.collectionName);
    const interval = parseInterval(cmd.body.interval);
    await this.catalog.checkTarget(cmd.dbName, head.collectionName, head.partitionName);
    const req = normalizeCreateRequest(cmd.body, head, { config: this.config });
    const folder = req.groups[0]!;
    if (!folder.isFolder) throw jobsErrors.invalid('objectUrl of a schedule must be a folder (a URL ending with /)');
    if (req.credentials?.signedUrls !== undefined) {
      throw jobsErrors.invalid('objectUrl of a schedule cannot carry a signed query string (give accessKey/secretKey)');
    }
    if (req.extensions.dryRun) throw jobsErrors.invalid('options.dry_run does not apply to a schedule');
    const scheduleId = `sched-${randomBytes(10).toString('hex')}`;
    const { signedUrls: _none, ...creds } = req.credentials ?? {};
    const created = await this.repo.create({
      scheduleId,
      dbName: cmd.dbName,
      collectionName: req.collectionName,
      ...(req.partitionName === undefined ? {} : { partitionName: req.partitionName }),
      folderUrl: folder.paths[0]!,
      intervalMs: interval.ms,
      intervalText: interval.text,
      options: req.options,
      ...(Object.keys(creds).length === 0 ? {} : { sealed: this.cipher.seal(creds) }),
      ...(cmd.apiKeyId === undefined ? {} : { apiKeyId: cmd.apiKeyId }),
    });
    if (!created) throw jobsErrors.collectionNotFound(req.collectionName);
    try {
      await this.queue.upsert(scheduleId, interval.ms);
    } catch (e) {
      // The row is the schedule: the workers' next reconcile pass creates the scheduler.
      this.log.warn({ scheduleId, err: e }, 'could not create the job scheduler (Redis unavailable?)');
    }
    return { scheduleId };
  }

  async describe(scheduleId: string): Promise<ScheduleRow> {
    const row = SCHEDULE_ID_PATTERN.test(scheduleId) ? await this.repo.find(scheduleId) : null;
    if (row === null) throw jobsErrors.invalid(`schedule not found, scheduleId=${scheduleId}`);
    return row;
  }

  list(filter: { dbName: string; collectionName?: string; collectionsIn?: readonly string[] }): Promise<ScheduleRow[]> {
    return this.repo.list(filter);
  }

  /** Deletes the schedule (its jobs stay); a tick already running finds it gone and does nothing. */
  async drop(row: ScheduleRow): Promise<void> {
    await this.repo.drop(row.scheduleId);
    try {
      await this.queue.remove(row.scheduleId);
    } catch (e) {
      this.log.warn({ scheduleId: row.scheduleId, err: e }, 'could not remove the job scheduler; reconcile will');
    }
  }
}

/** `interval`: a duration string (`"30s"`, `"5m"`, `"1h30m"`), at least 1 s, at most 720 h. */
export function parseInterval(v: unknown): { text: string; ms: number } {
  if (v === undefined) throw jobsErrors.missing(['interval']);
  if (typeof v !== 'string') throw jobsErrors.invalid('interval must be a duration string such as "5m"');
  const ms = parseJobTimeout(v);
  if (ms === null || ms < MIN_SCHEDULE_INTERVAL_MS) {
    throw jobsErrors.invalid(`interval ${JSON.stringify(v)} is not a duration from 1s to 720h such as "30s" or "5m"`);
  }
  return { text: v, ms };
}

/** A schedule as list and describe answer it (credentials never shown). */
export function presentSchedule(s: ScheduleRow): Record<string, unknown> {
  return {
    scheduleId: s.scheduleId,
    collectionName: s.collectionName,
    ...(s.partitionName === null ? {} : { partitionName: s.partitionName }),
    objectUrl: s.folderUrl,
    interval: s.intervalText,
    intervalSeconds: s.intervalMs / 1000,
    options: s.options,
    createTime: rfc3339(s.createdAt),
    lastTickTime: rfc3339(s.lastTickAt),
    lastTickResult: s.lastTickResult,
    ...(s.lastJobId === null ? {} : { lastJobId: s.lastJobId }),
  };
}
