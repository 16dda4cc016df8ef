import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { ParsePool } from '@gw/jobs';

/**
 * This process's parse threads (WORKER_PARSE_THREADS; 0: parse on the main thread), shared by all
 * its jobs. Started at boot so the first job does not pay the threads' start-up; stopped after
 * the dispatcher has handed running jobs back (onApplicationShutdown runs after
 * beforeApplicationShutdown).
 */
@Injectable()
export class ParseThreads implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly pool: ParsePool | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.pool = config.worker.parseThreads > 0 ? new ParsePool(config.worker.parseThreads) : null;
  }

  onApplicationBootstrap(): void {
    this.pool?.warm();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool?.close();
  }
}
