import type { Pool } from 'pg';
import { JobRunsRepository, type PublishedRowsCheck } from '@gw/db';
import { JobStaging, stagingTableName } from '@gw/sink';

/**
 * The check every non-Completed ending of a job runs first when the collections live in another
 * database (decision 0503): it closes the job's fence in the target — after which no run can
 * publish — and answers the rows a run already published. Undefined when both are one database:
 * publish and Completed are then one commit and need no check.
 */
export function targetPublishedRows(jobs: Pool, target: Pool): PublishedRowsCheck | undefined {
  if (target === jobs) return undefined;
  const staging = new JobStaging(target);
  const installation = new JobRunsRepository(jobs);
  return async (jobPk, ending) =>
    staging.close(stagingTableName(await installation.installationId(), jobPk), jobPk, ending);
}
