import type { AppConfig } from '@gw/config';
import type { JobRun } from '@gw/db';
import { isTransientPgError } from '@gw/pg';
import { SinkError, SinkErrorCode } from '@gw/sink';
import type { ClosableObjectSource } from '@gw/storage';
import { PlanError, type PlannedGroup, planGroups, versionsOf } from './plan';
import { RunGuard } from './run-guard';
import type { JobRunsPort } from './run-ports';
import { GroupFailed, type GroupStager } from './stage-group';
import { parseImportExtensions } from './extension-options';
import { onlyPlannedUnits } from './skip-imported';

/** How long an idle slot waits before asking PostgreSQL again for a job to help with. */
const HELP_POLL_MS = 500;

/**
 * An idle worker slot joining a running job (decision 0502): it claims one group nobody stages,
 * plans just that group, and stages it under the run's token, so one job's groups spread over
 * every worker process with a free slot.
 */
export class HelpRunningImport {
  private slots = 0;
  private nextHelpPoll = 0;

  constructor(
    private readonly workerId: string,
    private readonly runs: JobRunsPort,
    private readonly stager: GroupStager,
    private readonly config: Pick<AppConfig, 'import' | 'worker'>,
  ) {}

  /**
   * An idle slot helps a running job: claims groups nobody stages, plans just those, stages them
   * under the run's token. Returns whether it found a job (so the slot asks again at once).
   * Stopping (the run changed, cancel, deadline, shutdown) is the run's business, not an error.
   */
  async helpOnce(opts: { shutdown?: AbortSignal } = {}): Promise<boolean> {
    if (Date.now() < this.nextHelpPoll) return false;
    const id = await this.runs.findJobToHelp();
    if (id === null) {
      this.nextHelpPoll = Date.now() + HELP_POLL_MS;
      return false;
    }
    const { leaseMs } = this.config.worker;
    const owner = `${this.workerId}#h${++this.slots}`;
    const run = await this.runs.joinRun(id, owner, this.config.import.maxAttempts);
    if (run === null) return false;
    const guard = new RunGuard(() => this.runs.renewClaims(run, owner, leaseMs), {
      leaseMs,
      deadlineAt: run.deadlineAt,
      ...(opts.shutdown === undefined ? {} : { shutdown: opts.shutdown }),
      lostDetail: `run ${run.token} of ${run.jobId} ended`,
    });
    const sources: ClosableObjectSource[] = [];
    try {
      const spec = await this.stager.specFor(run);
      const ctx = await this.stager.planContext(run, guard.signal, sources);
      const slot = this.stager.slotFor(run, owner, spec, guard.signal);
      guard.tick = () => slot.progress.flush(false);
      await this.stager.claimAndStage(
        slot,
        async (group) => {
          const row = (await this.runs.files(run.id)).find((f) => f.groupIndex === group)!;
          const [planned] = await planGroups([row], ctx);
          return this.checkVersions(run, planned!);
        },
        1, // one group, then the slot looks at the queues again: helping must not starve other collections
      );
    } catch (thrown) {
      const err = thrown instanceof GroupFailed ? thrown.cause : thrown;
      const stopped =
        guard.reasonOf(err) !== null ||
        (err instanceof SinkError && (err.code === SinkErrorCode.FenceLost || err.code === SinkErrorCode.FenceClosed));
      if (!stopped && !(isTransientPgError(err) && !(err instanceof PlanError))) {
        // Bad input fails the job wherever it is found; the run sees it at its next renewal.
        const group = thrown instanceof GroupFailed ? thrown.group : null;
        await this.runs.fail(run, err instanceof Error ? err.message : String(err), group);
      }
    } finally {
      guard.stop();
      for (const src of sources) src.close();
    }
    return true;
  }

  /** A helper must read the objects the run planned: a version that moved fails the job. */
  private async checkVersions(run: JobRun, g: PlannedGroup): Promise<PlannedGroup> {
    const planned = await this.runs.plannedVersions(run.id, g.row.groupIndex);
    // skip_imported: the run decided which objects of a folder were left out (decision 1401).
    if (parseImportExtensions(run.options).skipImported) g = onlyPlannedUnits(g, planned);
    for (const [name, version] of Object.entries(versionsOf(g))) {
      const was = planned[name];
      if (was !== undefined && was !== version) {
        throw new PlanError(`${name}: the object changed while the job ran (version ${was} → ${version})`);
      }
    }
    return g;
  }
}
