import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { JOB_DB_POOL } from '@gw/db';
import { WebhookDeliverer } from '@gw/jobs';

/**
 * The webhook delivery loop of a worker (decision 1504): every WEBHOOK_POLL_INTERVAL_MS, or at once
 * after a full batch, one pass of the deliverer. Every worker runs it; the outbox claim keeps them
 * apart, and a worker started after a crash finds the rows the crash left.
 */
@Injectable()
export class WebhookDeliveryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Webhooks');
  private readonly deliverer: WebhookDeliverer;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(JOB_DB_POOL) jobs: Pool,
  ) {
    this.deliverer = new WebhookDeliverer(jobs, { config });
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass();
    }, ms);
  }

  private async pass(): Promise<void> {
    const batch = 16;
    let next = this.config.webhooks.pollIntervalMs;
    try {
      const n = await this.deliverer.runOnce();
      if (n >= batch) next = 0;
    } catch (e) {
      this.log.warn({ err: e }, 'webhook delivery pass failed; retrying at the next interval');
    } finally {
      this.schedule(next);
    }
  }

  /** Before the pools close: the pass in flight records its attempts (a request lasts ≤ WEBHOOK_TIMEOUT_MS). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.deliverer.close();
  }
}
