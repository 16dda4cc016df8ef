import { Inject, Injectable } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { FatalImportError, type ImportJobData, RunImportJob } from '@gw/jobs';

/** Thin: unpacks the job id and runs the one use-case; a terminal failure must not be retried. */
@Injectable()
export class ImportProcessor {
  constructor(@Inject(RunImportJob) private readonly runImport: RunImportJob) {}

  async process(
    data: ImportJobData,
    ctx: { attemptsMade: number; maxAttempts: number; shutdown: AbortSignal },
  ): Promise<void> {
    try {
      await this.runImport.execute(data.jobId, {
        attempt: ctx.attemptsMade,
        maxAttempts: ctx.maxAttempts,
        shutdown: ctx.shutdown,
      });
    } catch (e) {
      throw e instanceof FatalImportError ? new UnrecoverableError(e.message) : e;
    }
  }
}
