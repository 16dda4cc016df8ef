import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { JOB_DB_POOL, TARGET_DB_POOL } from '@gw/db';
import { BullJobQueue, FairDispatcher, Reconciler, REDIS_QUEUE, sweepSpoolFiles } from '@gw/jobs';
import { ImportProcessor } from './import.processor';

/**
 * Starts the fair dispatcher over the per-collection queues and the reconciler that rebuilds
 * Redis's view from Postgres; on SIGTERM stops taking jobs and hands running ones back.
 */
@Injectable()
export class ImportWorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('ImportWorker');
  private readonly dispatcher: FairDispatcher;
  private readonly queue: BullJobQueue;
  private readonly reconciler: Reconciler;
  private timer: NodeJS.Timeout | undefined;
  private reconciling = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_QUEUE) redis: Redis,
    @Inject(JOB_DB_POOL) jobs: Pool,
    @Inject(TARGET_DB_POOL) target: Pool,
    @Inject(ImportProcessor) processor: ImportProcessor,
  ) {
    this.queue = new BullJobQueue(redis, {
      prefix: config.queuePrefix,
      attempts: config.import.maxAttempts,
      collectionConcurrency: config.worker.collectionConcurrency,
      timeoutMs: 10_000,
    });
    this.dispatcher = new FairDispatcher(
      redis,
      {
        prefix: config.queuePrefix,
        slots: config.worker.concurrency,
        lockDurationMs: config.worker.leaseMs,
        stalledIntervalMs: Math.max(1_000, Math.floor(config.worker.leaseMs / 2)),
        idleWork: (shutdown) => processor.help(shutdown),
        // An idle slot asks Redis for work every 50 ms (one cheap call): a new job starts sooner.
        idleDelayMs: 50,
      },
      (data, ctx) => processor.process(data, ctx),
      (err, context) => this.log.warn({ err, context }, 'dispatcher problem'),
    );
    this.reconciler = new Reconciler(jobs, this.queue, {
      graceMs: 2_000,
      batch: 1_000,
      onQueueTouched: (name) => this.dispatcher.workerFor(name),
      target,
      ...(config.import.jobRetentionMs === undefined ? {} : { retentionMs: config.import.jobRetentionMs }),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const spools = await sweepSpoolFiles();
    if (spools > 0) this.log.log({ removed: spools }, 'removed spool files of stopped workers');
    await this.reconcile();
    this.dispatcher.start();
    this.timer = setInterval(() => void this.reconcile(), this.config.worker.reconcileIntervalMs);
    this.log.log({ slots: this.config.worker.concurrency }, 'import dispatcher started');
  }

  private async reconcile(): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      const r = await this.reconciler.runOnce();
      if (r.enqueued + r.recovered + r.timedOut + r.stagingDropped + r.expired + r.indexingAbandoned > 0) {
        this.log.log(r, 'reconciled jobs Redis did not hold');
        this.dispatcher.nudge();
      }
    } catch (e) {
      this.log.warn({ err: e }, 'reconcile pass failed; retrying at the next interval');
    } finally {
      this.reconciling = false;
    }
  }

  /** Busy and total import slots (metrics). */
  slots(): { total: number; busy: number } {
    return { total: this.config.worker.concurrency, busy: this.dispatcher.running };
  }

  /** Waiting jobs and the oldest wait of each queue this process consumes (metrics). */
  waiting(): Promise<{ queue: string; waiting: number; oldestMs: number | null }[]> {
    return this.queue.waiting(this.dispatcher.queueNames);
  }

  /** Taking jobs: started and not shutting down (readiness). */
  get accepting(): boolean {
    return this.dispatcher.accepting;
  }

  /**
   * Before any module's onApplicationShutdown closes Redis and PostgreSQL: running imports must
   * still be able to release their leases and hand their BullMQ jobs back.
   */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.dispatcher.stop(8_000);
      await this.queue.close();
    } catch (e) {
      this.log.warn({ err: e }, 'problem while stopping the import dispatcher');
    } finally {
      this.log.log('import dispatcher stopped');
    }
  }
}
