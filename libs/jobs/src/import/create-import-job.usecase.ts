import { Logger } from '@nestjs/common';
import type { AppConfig } from '@gw/config';
import type { ImportJobsRepository } from '@gw/db';
import type { JobQueue } from '../queues/import/import-queue';
import type { CredentialsCipher } from './credentials-cipher';
import { normalizeCreateRequest, readCreateHead, type RequestBody, validateIdempotencyKey } from './create-request';
import type { ImportCatalog } from './import-catalog';
import { newJobId } from './job-id';
import { jobsErrors } from '../jobs.errors';
import { webhookTargets } from '../webhooks/webhook-targets';

/** Whether a volume exists (VolumeStore in the apps; the create check of import-api.md §5). */
export interface VolumeLookup {
  exists(volumeName: string): Promise<boolean>;
}

export interface CreateImportJobCommand {
  dbName: string;
  body: RequestBody;
  idempotencyKey?: string;
  apiKeyId?: string;
  /** The call's X-Request-Id, stored with the job so the worker's lines for it name the request. */
  requestId?: string;
  /** Called once the target collection is known, before anything is stored (authorisation). */
  authorize?: (dbName: string, collectionName: string) => void;
}

export interface CreateImportJobResult {
  jobId: string;
  replayed: boolean;
}

/**
 * Admits one import job: checks in the order of import-api.md §5, stores the job (credentials
 * sealed) under the per-collection cap, then enqueues its id. The row is committed first: if
 * Redis is down the job stays Pending and the worker's reconciler enqueues it later.
 */
export class CreateImportJob {
  private readonly log = new Logger('CreateImportJob');

  constructor(
    private readonly repo: ImportJobsRepository,
    private readonly catalog: ImportCatalog,
    private readonly queue: JobQueue,
    private readonly cipher: CredentialsCipher,
    private readonly config: Pick<AppConfig, 'storage' | 'import'> & Partial<Pick<AppConfig, 'webhooks'>>,
    private readonly volumes?: VolumeLookup,
  ) {}

  async execute(cmd: CreateImportJobCommand): Promise<CreateImportJobResult> {
    const head = readCreateHead(cmd.body);
    cmd.authorize?.(cmd.dbName, head.collectionName);
    const target = await this.catalog.checkTarget(cmd.dbName, head.collectionName, head.partitionName);
    const idempotencyKey = validateIdempotencyKey(cmd.idempotencyKey);
    const req = normalizeCreateRequest(cmd.body, head, { config: this.config, maxGroupFiles: target.maxGroupFiles });
    if (req.extensions.onConflict !== 'error' && target.autoIdPrimaryKey) {
      throw jobsErrors.invalid(
        `options.on_conflict=${req.extensions.onConflict} needs rows that carry their primary key; collection ${req.collectionName} generates it (autoID)`,
      );
    }
    if (req.volumeName !== undefined && !(await this.volumes?.exists(req.volumeName))) {
      throw jobsErrors.volumeNotFound(req.volumeName);
    }
    const webhooks = webhookTargets(req.extensions.webhookUrl, this.config);

    const jobId = newJobId();
    const result = await this.repo.admit(
      {
        jobId,
        dbName: cmd.dbName,
        collectionName: req.collectionName,
        ...(req.partitionName === undefined ? {} : { partitionName: req.partitionName }),
        request: {
          source: req.source,
          groups: req.groups.map((g) => g.paths),
          // Read by a volume's delete: a volume an active job names cannot be deleted.
          ...(req.volumeName === undefined ? {} : { volumeName: req.volumeName }),
          ...req.cloud,
          // Notified when the job ends (the outbox rows are written from this, decision 1501).
          ...(webhooks.length === 0 ? {} : { webhooks }),
        },
        options: req.options,
        ...(req.timeout === undefined ? {} : { timeoutMs: req.timeout.ms }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        requestHash: req.requestHash,
        ...(req.credentials === undefined ? {} : { sealedCredentials: this.cipher.seal(req.credentials) }),
        ...(cmd.apiKeyId === undefined ? {} : { apiKeyId: cmd.apiKeyId }),
        ...(cmd.requestId === undefined ? {} : { requestId: cmd.requestId }),
        files: req.groups.map((g) => ({
          paths: g.paths,
          displayName: g.displayName,
          format: g.format,
          isFolder: g.isFolder,
        })),
      },
      this.config.import.maxActiveJobsPerCollection,
    );
    switch (result.kind) {
      case 'limit':
        throw jobsErrors.activeJobLimit();
      case 'idempotency-conflict':
        throw jobsErrors.invalid('idempotency key reused with a different request');
      case 'replayed':
        return { jobId: result.jobId, replayed: true };
      case 'created':
        break;
    }
    try {
      await this.queue.enqueue(cmd.dbName, req.collectionName, jobId);
    } catch (e) {
      this.log.warn(
        { jobId, err: e },
        'could not enqueue the job (Redis unavailable?); it stays Pending and the reconciler will enqueue it',
      );
    }
    return { jobId, replayed: false };
  }
}
