import type { ImportJobsRepository, JobRejectsRepository, RejectsPage } from '@gw/db';
import { jobsErrors } from '../jobs.errors';
import type { JobView } from './query-import-jobs.usecase';

export const DEFAULT_REJECTS_PAGE = 1_000;
export const MAX_REJECTS_PAGE = 10_000;

export interface ReadRejectsQuery {
  jobId: string;
  /** The `next` cursor of the previous page; absent: the first page. */
  after?: string;
  limit?: number;
  /** Throws when the caller may not see this job (the same check as describe). */
  authorize?: (view: JobView) => void;
}

/**
 * The rejected-rows report of a job (error_mode=continue, decision 1301): pages of at most
 * MAX_REJECTS_PAGE rows in (file group, row) order; the API streams a page as JSONL.
 */
export class ReadJobRejects {
  constructor(
    private readonly jobs: ImportJobsRepository,
    private readonly rejects: JobRejectsRepository,
  ) {}

  async execute(q: ReadRejectsQuery): Promise<RejectsPage & { rejectedRows: number }> {
    const view = await this.jobs.findByJobId(q.jobId);
    if (view === null) throw jobsErrors.jobNotFound(q.jobId);
    q.authorize?.(view);
    const limit = q.limit ?? DEFAULT_REJECTS_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REJECTS_PAGE) {
      throw jobsErrors.invalid(`limit must be a whole number from 1 to ${MAX_REJECTS_PAGE}`);
    }
    const page = await this.rejects.page(view.job.id, q.after ?? null, limit);
    if (page === null) throw jobsErrors.invalid('after is not a cursor this route gave');
    return { ...page, rejectedRows: Number(view.job.rejectedRows) };
  }
}
