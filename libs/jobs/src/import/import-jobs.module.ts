import { Logger, Module } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import {
  DryRunRepository,
  ImportJobsRepository,
  JOB_DB_POOL,
  JobRejectsRepository,
  TARGET_DB_POOL,
  VolumesRepository,
} from '@gw/db';
import { VolumeStore } from '@gw/volumes';
import { BullJobQueue } from '../queues/import/import-queue';
import { REDIS_PRODUCER } from '../queues/queue.module';
import { CreateImportJob } from './create-import-job.usecase';
import { CredentialsCipher } from './credentials-cipher';
import { CollectionsImportCatalog } from './import-catalog';
import { targetPublishedRows } from './published-check';
import { ListJobEvents } from './job-events.usecase';
import { CancelImportJob, DescribeImportJob, ListImportJobs } from './query-import-jobs.usecase';
import { ReadJobRejects } from './read-rejects.usecase';

export const IMPORT_JOB_QUEUE = Symbol('IMPORT_JOB_QUEUE');

const log = new Logger('ImportJobs');

/** Wires the import use-cases to Postgres, the collections catalog and the per-collection queues. */
@Module({
  providers: [
    {
      provide: ImportJobsRepository,
      inject: [JOB_DB_POOL, TARGET_DB_POOL, APP_CONFIG],
      useFactory: (jobs: Pool, target: Pool, c: AppConfig) =>
        new ImportJobsRepository(jobs, targetPublishedRows(jobs, target), c.import.admissionBatch),
    },
    {
      provide: CredentialsCipher,
      inject: [APP_CONFIG],
      useFactory: (c: AppConfig) => new CredentialsCipher(c.secretKeys.current, c.secretKeys.previous),
    },
    {
      provide: IMPORT_JOB_QUEUE,
      inject: [REDIS_PRODUCER, APP_CONFIG],
      useFactory: (r: Redis, c: AppConfig) =>
        new BullJobQueue(r, {
          prefix: c.queuePrefix,
          attempts: c.import.maxAttempts,
          collectionConcurrency: c.worker.collectionConcurrency,
        }),
    },
    {
      provide: CollectionsImportCatalog,
      inject: [JOB_DB_POOL, TARGET_DB_POOL],
      useFactory: (catalog: Pool, target: Pool) => new CollectionsImportCatalog(catalog, target),
    },
    {
      // Volumes: the API's routes, the create check and the worker's reads share one store.
      provide: VolumeStore,
      inject: [JOB_DB_POOL, APP_CONFIG],
      useFactory: (p: Pool, c: AppConfig) =>
        new VolumeStore(new VolumesRepository(p), c, { ambientCredentials: c.storage.ambientCredentials }),
    },
    {
      provide: CreateImportJob,
      inject: [
        ImportJobsRepository,
        CollectionsImportCatalog,
        IMPORT_JOB_QUEUE,
        CredentialsCipher,
        APP_CONFIG,
        VolumeStore,
      ],
      useFactory: (
        repo: ImportJobsRepository,
        catalog: CollectionsImportCatalog,
        queue: BullJobQueue,
        cipher: CredentialsCipher,
        c: AppConfig,
        volumes: VolumeStore,
      ) => new CreateImportJob(repo, catalog, queue, cipher, c, volumes),
    },
    {
      provide: ListImportJobs,
      inject: [ImportJobsRepository],
      useFactory: (r: ImportJobsRepository) => new ListImportJobs(r),
    },
    {
      provide: DescribeImportJob,
      inject: [ImportJobsRepository, JOB_DB_POOL],
      useFactory: (r: ImportJobsRepository, p: Pool) => new DescribeImportJob(r, new DryRunRepository(p)),
    },
    {
      provide: ReadJobRejects,
      inject: [ImportJobsRepository, JOB_DB_POOL],
      useFactory: (r: ImportJobsRepository, p: Pool) => new ReadJobRejects(r, new JobRejectsRepository(p)),
    },
    {
      provide: ListJobEvents,
      inject: [ImportJobsRepository],
      useFactory: (r: ImportJobsRepository) => new ListJobEvents(r),
    },
    {
      provide: CancelImportJob,
      inject: [ImportJobsRepository, IMPORT_JOB_QUEUE],
      useFactory: (r: ImportJobsRepository, q: BullJobQueue) =>
        new CancelImportJob(r, async ({ job }) => {
          // A waiting job leaves the queue now; a running one notices the state change itself.
          await q.remove(job.dbName, job.collectionName, job.jobId).catch((e: unknown) => {
            log.warn({ jobId: job.jobId, err: e }, 'could not remove the cancelled job from its queue');
          });
        }),
    },
  ],
  exports: [
    CollectionsImportCatalog,
    VolumeStore,
    CredentialsCipher,
    ImportJobsRepository,
    CreateImportJob,
    ListImportJobs,
    DescribeImportJob,
    CancelImportJob,
    ReadJobRejects,
    ListJobEvents,
    IMPORT_JOB_QUEUE,
  ],
})
export class ImportJobsModule {}
