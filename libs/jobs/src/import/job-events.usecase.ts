import type { ImportJobsRepository, JobEventRow } from '@gw/db';
import { jobsErrors } from '../jobs.errors';
import { rfc3339 } from './job-presenter';
import type { JobView } from './query-import-jobs.usecase';

export interface JobEvents {
  view: JobView;
  events: JobEventRow[];
}

/**
 * A job's state changes (import_job_events), for the dashboard and operators: the job is looked
 * up first so the caller can check access to its collection before anything else is read.
 */
export class ListJobEvents {
  constructor(private readonly repo: ImportJobsRepository) {}

  async execute(jobId: string, authorize?: (view: JobView) => void): Promise<JobEvents> {
    const view = await this.repo.findByJobId(jobId);
    if (view === null) throw jobsErrors.jobNotFound(jobId);
    authorize?.(view);
    return { view, events: await this.repo.events(view.job.id) };
  }
}

/** The `events` answer (docs/api-extensions.md, Job events): times as RFC 3339 like describe's. */
export function jobEventsV2({ view, events }: JobEvents): Record<string, unknown> {
  return {
    jobId: view.job.jobId,
    startTime: rfc3339(view.job.startedAt),
    events: events.map((e) => ({
      time: e.at.toISOString(),
      fromState: e.fromState ?? '',
      toState: e.toState,
      message: e.message,
      actor: e.actor,
    })),
  };
}
