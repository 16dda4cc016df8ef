import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { FatalImportError, type ImportJobData, RunImportJob } from '@gw/jobs';

/** Thin: unpacks the job id and runs the one use-case; a terminal failure must not be retried. */
@Injectable()
export class ImportProcessor {
  private readonly log = new Logger('ImportProcessor');

  constructor(@Inject(RunImportJob) private readonly runImport: RunImportJob) {}

  async process(
    data: ImportJobData,
    ctx: { attemptsMade: number; maxAttempts: number; shutdown: AbortSignal },
  ): Promise<void> {
    const t0 = Date.now();
    try {
      const outcome = await this.runImport.execute(data.jobId, {
        attempt: ctx.attemptsMade,
        maxAttempts: ctx.maxAttempts,
        shutdown: ctx.shutdown,
      });
      this.log.log({ jobId: data.jobId, outcome, ms: Date.now() - t0 }, `import ${outcome}`);
    } catch (e) {
      const fatal = e instanceof FatalImportError;
      this.log.warn(
        { jobId: data.jobId, outcome: fatal ? 'failed' : 'retry', ms: Date.now() - t0, reason: (e as Error).message },
        fatal ? 'import failed' : 'import attempt failed; will retry',
      );
      throw fatal ? new UnrecoverableError(e.message) : e;
    }
  }
}
