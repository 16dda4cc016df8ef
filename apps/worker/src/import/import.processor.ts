import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { FatalImportError, type ImportJobData, RunImportJob } from '@gw/jobs';
import { withLogContext } from '@gw/logger';
import { WorkerMetrics } from '../ops/worker-metrics';

/** Thin: unpacks the job id and runs the one use-case; a terminal failure must not be retried. */
@Injectable()
export class ImportProcessor {
  private readonly log = new Logger('ImportProcessor');

  constructor(
    @Inject(RunImportJob) private readonly runImport: RunImportJob,
    @Inject(WorkerMetrics) private readonly metrics: WorkerMetrics,
  ) {}

  /**
   * Every line of the run (here and below) names the job, and the request that created it once
   * the run has read the job row (`setLogContext` in the use-case).
   */
  process(data: ImportJobData, ctx: { shutdown: AbortSignal }): Promise<void> {
    return withLogContext({ jobId: data.jobId }, () => this.run(data, ctx));
  }

  private async run(data: ImportJobData, ctx: { shutdown: AbortSignal }): Promise<void> {
    const t0 = Date.now();
    try {
      const { outcome, detail } = await this.runImport.execute(data.jobId, { shutdown: ctx.shutdown });
      this.metrics.runEnded(
        outcome,
        Date.now() - t0,
        outcome === 'failed' && detail === 'timeout' ? 'TIMEOUT' : undefined,
      );
      const line = { jobId: data.jobId, outcome, ms: Date.now() - t0, ...(detail === undefined ? {} : { detail }) };
      // A released run stopped because a newer run owns the job (lost lease or fence): say why.
      if (outcome === 'released') this.log.warn(line, `import released: ${detail ?? ''}`);
      else this.log.log(line, `import ${outcome}`);
    } catch (e) {
      const fatal = e instanceof FatalImportError;
      this.metrics.runEnded(fatal ? 'failed' : 'retry', Date.now() - t0, fatal ? e.code : undefined);
      this.log.warn(
        { jobId: data.jobId, outcome: fatal ? 'failed' : 'retry', ms: Date.now() - t0, reason: (e as Error).message },
        fatal ? 'import failed' : 'import attempt failed; will retry',
      );
      throw fatal ? new UnrecoverableError(e.message) : e;
    }
  }

  /** An idle slot joins a running job to stage file groups nobody has claimed (decision 0502). */
  async help(shutdown: AbortSignal): Promise<boolean> {
    return withLogContext({}, () => this.runImport.helpOnce({ shutdown }));
  }
}
