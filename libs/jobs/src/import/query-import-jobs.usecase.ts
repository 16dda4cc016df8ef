import type {
  DryRunError,
  DryRunRepository,
  ImportJobsRepository,
  JobFileRow,
  JobListRow,
  JobPhaseRow,
  JobRow,
  JobState,
  JobWebhookRow,
  ListFilter,
} from '@gw/db';
import { jobsErrors } from '../jobs.errors';

export interface JobView {
  job: JobRow;
  files: JobFileRow[];
  /** Deliveries of a terminal job (describe's `webhooks`); undefined leaves the field out. */
  webhooks?: JobWebhookRow[];
  /** A dry run's first errors per group and the collection's recent throughput (decision 1302). */
  dryRun?: { errors: DryRunError[]; bytesPerSecond: number | null };
  /** The phase timeline (issue 16 point 7); absent where a view is built without it. */
  phases?: JobPhaseRow[];
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

/**
 * `states` (gateway extension, docs/api-extensions.md "List filters"): a JSON array of state names,
 * or one string of comma-separated names (query strings); each name as `state` accepts. The union.
 */
export function parseStatesFilter(value: unknown): readonly JobState[] {
  const names =
    typeof value === 'string'
      ? value.split(',').map((x) => x.trim())
      : Array.isArray(value) && value.every((x) => typeof x === 'string')
        ? value
        : undefined;
  if (names === undefined) throw jobsErrors.invalid('states must be an array of state names');
  if (names.length === 0 || names.some((n) => n === ''))
    throw jobsErrors.invalid('states must name at least one state');
  const out = new Set<JobState>();
  for (const n of names) for (const s of parseStateFilter(n)) out.add(s);
  return [...out];
}

/**
 * From this offset on, list counts before it reads the page, so that a page nearer the oldest end
 * is walked from there; below it the walk from the newest end is short and both run at once.
 */
const COUNT_FIRST_FROM_OFFSET = 1_000;

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
    // `state` and `states` with no state in common: nothing matches.
    if (q.states !== undefined && q.states.length === 0)
      return q.page === undefined ? { records: [] } : { records: [], count: 0 };
    if (q.page === undefined) return { records: await this.repo.list(filter, UNPAGED_LIMIT, 0) };
    const offset = (q.page.current - 1) * q.page.size;
    if (offset < COUNT_FIRST_FROM_OFFSET) {
      const [records, count] = await Promise.all([
        this.repo.list(filter, q.page.size, offset),
        this.repo.count(filter),
      ]);
      return { records, count };
    }
    // Deep pages: the count (a few rows of the counts table) says which end the page is nearer.
    const count = await this.repo.count(filter);
    return { records: await this.repo.list(filter, q.page.size, offset, count), count };
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
