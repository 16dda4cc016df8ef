import type { JobRunsRepository } from '@gw/db';
import type { JobStaging } from '@gw/sink';

/** The job-table statements a run uses (JobRunsRepository; a fake in unit tests). */
export type JobRunsPort = Pick<
  JobRunsRepository,
  | 'acquire'
  | 'claimGroup'
  | 'complete'
  | 'credentials'
  | 'end'
  | 'fail'
  | 'files'
  | 'findJobToHelp'
  | 'installationId'
  | 'joinRun'
  | 'loadedObjects'
  | 'markGroupStaged'
  | 'plannedVersions'
  | 'recordPlan'
  | 'recordSkips'
  | 'release'
  | 'releaseClaim'
  | 'renew'
  | 'renewClaims'
  | 'writeProgress'
>;
/** The staging a run uses (JobStaging; a fake in unit tests). */
export type JobStagingPort = Pick<
  JobStaging,
  'begin' | 'drop' | 'inPublishTransaction' | 'publishDirect' | 'stageGroup' | 'staged'
>;
