import type {
  DryRunError,
  DryRunRepository,
  ImportJobsRepository,
  JobFileRow,
  JobListRow,
  JobRow,
  JobState,
  ListFilter,
} from '@gw/db';
import { jobsErrors } from '../jobs.errors';

export interface JobView {
  job: JobRow;
  files: JobFileRow[];
  /** A dry run's first errors per group and the collection's recent throughput (decision 1302). */
  dryRun?: { errors: DryRunError[]; bytesPerSecond: number | null };
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 10;
export const UNPAGED_LIMIT = 1_000;

export interface ListJobsQuery extends ListFilter {
  /** undefined: Milvus mode (at most the 1,000 newest, no count). */
  page?: { size: number; current: number };
}

export interface ListJobsResult {
  records: JobListRow[];
  count?: number;
}

/** Names accepted as list filters (§6): v2 and v1 job names, and the file-task name InProgress. */
const STATE_FILTERS: Readonly<Record<string, readonly JobState[]>> = {
  pending: ['Pending'],
  importing: ['Importing'],
  inprogress: ['Importing'],
  importrunning: ['Pending', 'Importing'],
  completed: ['Completed'],
  importcompleted: ['Completed'],
  failed: ['Failed', 'Cancelled'],
  importfailed: ['Failed', 'Cancelled'],
  cancelled: ['Cancelled'],
};

export function parseStateFilter(state: string): readonly JobState[] {
  const s = STATE_FILTERS[state.toLowerCase()];
  if (s === undefined) {
    throw jobsErrors.invalid(
      `state "${state}" is not one of Pending, Importing, InProgress, Completed, Failed, Cancelled`,
    );
  }
  return s;
}

export class ListImportJobs {
  constructor(private readonly repo: ImportJobsRepository) {}

  async execute(q: ListJobsQuery): Promise<ListJobsResult> {
    const filter: ListFilter = {
      dbName: q.dbName,
      ...(q.collectionName === undefined ? {} : { collectionName: q.collectionName }),
      ...(q.states === undefined ? {} : { states: q.states }),
      ...(q.collectionsIn === undefined ? {} : { collectionsIn: q.collectionsIn }),
      ...(q.createdAfter === undefined ? {} : { createdAfter: q.createdAfter }),
      ...(q.createdBefore === undefined ? {} : { createdBefore: q.createdBefore }),
    };
    if (q.page === undefined) return { records: await this.repo.list(filter, UNPAGED_LIMIT, 0) };
    const [records, count] = await Promise.all([
      this.repo.list(filter, q.page.size, (q.page.current - 1) * q.page.size),
      this.repo.count(filter),
    ]);
    return { records, count };
  }
}

export class DescribeImportJob {
  constructor(
    private readonly repo: ImportJobsRepository,
    private readonly dry?: DryRunRepository,
  ) {}

  async execute(jobId: string): Promise<JobView> {
    const found = await this.repo.findByJobId(jobId);
    if (found === null) throw jobsErrors.jobNotFound(jobId);
    if (this.dry === undefined || found.job.options.dry_run?.toLowerCase() !== 'true') return found;
    const [errors, bytesPerSecond] = await Promise.all([
      this.dry.firstErrors(found.job.id),
      this.dry.recentBytesPerSecond(found.job.dbName, found.job.collectionName),
    ]);
    return { ...found, dryRun: { errors, bytesPerSecond } };
  }
}

export class CancelImportJob {
  constructor(
    private readonly repo: ImportJobsRepository,
    private readonly onCancelled: (view: JobView) => Promise<void>,
  ) {}

  /** Pending/Importing → Cancelled; Failed/Cancelled → no-op; Completed → 1100. */
  async execute(jobId: string, authorize?: (view: JobView) => void): Promise<JobView> {
    const before = await this.repo.findByJobId(jobId);
    if (before === null) throw jobsErrors.jobNotFound(jobId);
    authorize?.(before);
    const prior = await this.repo.cancel(jobId, 'cancelled by request', 'api');
    if (prior === 'Completed') throw jobsErrors.invalid(`job ${jobId} is Completed and cannot be cancelled`);
    const after = await this.repo.findByJobId(jobId);
    if (after === null) throw jobsErrors.jobNotFound(jobId);
    if (prior === 'Pending' || prior === 'Importing') await this.onCancelled(after);
    return after;
  }
}
