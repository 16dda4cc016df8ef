import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type Job, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { ImportSchedulesRepository } from '@gw/db';
import { REDIS_QUEUE, RunScheduleTick, SCHEDULE_QUEUE, ScheduleQueue, scheduleTickData } from '@gw/jobs';

/**
 * Scheduled imports on the worker (decision 1402): re-creates BullMQ's job schedulers from
 * PostgreSQL at start and at every reconcile pass (a flushed Redis loses no schedule), and runs
 * the ticks they produce, one at a time per process.
 */
@Injectable()
export class ScheduleWorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('ImportSchedules');
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restoring = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_QUEUE) private readonly redis: Redis,
    @Inject(ImportSchedulesRepository) private readonly repo: ImportSchedulesRepository,
    @Inject(ScheduleQueue) private readonly queue: ScheduleQueue,
    @Inject(RunScheduleTick) private readonly tick: RunScheduleTick,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.restore();
    this.worker = new Worker(SCHEDULE_QUEUE, (job: Job) => this.process(job), {
      connection: this.redis,
      prefix: this.config.queuePrefix,
      concurrency: 1,
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'schedule worker problem'));
    this.timer = setInterval(() => void this.restore(), this.config.worker.reconcileIntervalMs);
  }

  private async process(job: Job): Promise<void> {
    const { scheduleId } = scheduleTickData.parse(job.data);
    const outcome = await this.tick.execute(scheduleId, job.timestamp);
    if (outcome.kind === 'gone') await this.queue.remove(scheduleId).catch(() => undefined);
    this.log.log({ scheduleId, outcome }, 'schedule tick');
  }

  private async restore(): Promise<void> {
    if (this.restoring) return;
    this.restoring = true;
    try {
      const created = await this.queue.restore(await this.repo.all());
      if (created > 0) this.log.log({ created }, 're-created job schedulers Redis did not hold');
    } catch (e) {
      this.log.warn({ err: e }, 'could not restore the job schedulers; retrying at the next interval');
    } finally {
      this.restoring = false;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.worker?.close();
      await this.queue.close();
    } catch (e) {
      this.log.warn({ err: e }, 'problem while stopping the schedule worker');
    }
  }
}
