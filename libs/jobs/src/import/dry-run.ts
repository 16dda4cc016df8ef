import type { Pool } from 'pg';
import type { AppConfig } from '@gw/config';
import { DryRunRepository, JobRejectsRepository, type JobRun } from '@gw/db';
import { FormatError, openFileGroup } from '@gw/formats';
import { inTransaction } from '@gw/pg';
import type { ClosableObjectSource } from '@gw/storage';
import type { JobStagingSpec } from '@gw/sink';
import { openUnitInputs, type PlanContext, type PlannedGroup, planGroups, versionsOf } from './plan';
import { Aborted } from './run-guard';
import type { JobRunsPort } from './run-ports';
import { RejectCollector } from './rejects';
import { readOptionsOf } from './stage-group';

/**
 * A dry run (options.dry_run, decision 1302): the job's objects are listed and every row is read
 * and validated by the same readers as an import, and nothing is written anywhere but the job
 * tables: no staging table, no collection rows. Each group's rows read go to its file row, its
 * refused rows to the rejects report (all of them, as under error_mode=continue), a whole-file
 * problem (a Parquet/NumPy column that cannot hold its field, found from metadata before any row;
 * a syntax error; a corrupt file) to its file row's reason; then the job is Completed with
 * importedRows 0. Describe shows the report (job-presenter's dryRun section).
 */
export class DryRunImport {
  private readonly rejects: JobRejectsRepository;
  private readonly dry: DryRunRepository;

  constructor(
    private readonly runs: JobRunsPort,
    private readonly deps: { jobs: Pool; config: Pick<AppConfig, 'import'> },
  ) {
    this.rejects = new JobRejectsRepository(deps.jobs);
    this.dry = new DryRunRepository(deps.jobs);
  }

  async run(
    run: JobRun,
    spec: JobStagingSpec,
    planContext: (sources: ClosableObjectSource[]) => Promise<PlanContext>,
    signal: AbortSignal,
  ): Promise<void> {
    const sources: ClosableObjectSource[] = [];
    try {
      const plan = await planGroups(await this.runs.files(run.id), await planContext(sources));
      await this.runs.recordPlan(
        run,
        plan.reduce((a, g) => a + g.bytes, 0),
        plan.map((g) => ({ group: g.row.groupIndex, bytes: g.bytes, versions: versionsOf(g) })),
      );
      let rows = 0;
      for (const g of plan) {
        signal.throwIfAborted();
        rows += await this.validateGroup(run, spec, g, signal);
      }
      const done = await inTransaction(this.deps.jobs, async (c) => {
        if (!(await this.runs.complete(c, run, 0, run.owner))) return false;
        // Rows read, for the report: importedRows stays 0 (nothing was imported).
        await c.query('UPDATE import_jobs SET total_rows = $2 WHERE id = $1', [run.id, rows]);
        await c.query('UPDATE import_job_files SET imported_rows = 0 WHERE job_id = $1', [run.id]);
        return true;
      });
      if (!done) throw new Aborted('lease-lost', 'the job changed state before the dry run ended');
    } finally {
      for (const src of sources) src.close();
    }
  }

  /** Reads one group to its end; returns the rows that passed. */
  private async validateGroup(
    run: JobRun,
    spec: JobStagingSpec,
    g: PlannedGroup,
    signal: AbortSignal,
  ): Promise<number> {
    const group = g.row.groupIndex;
    const collector = new RejectCollector();
    const readOptions = readOptionsOf(run, this.deps.config, collector);
    const schema = { fields: spec.layout.fields, enableDynamicField: spec.layout.dynamicField };
    let rows = 0;
    let problem = '';
    for (const u of g.units) {
      const { inputs, cleanup } = await openUnitInputs(u, signal, () => undefined);
      try {
        for await (const b of openFileGroup(u.format, inputs, schema, readOptions).batches()) {
          signal.throwIfAborted();
          rows += b.rowCount;
        }
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        problem ||= e.message; // the first whole-file problem of the group; later units are still read
      } finally {
        await cleanup();
      }
    }
    await this.runs.markGroupStaged(this.deps.jobs, run, group, rows);
    await this.rejects.recordGroup(this.deps.jobs, run.id, group, collector.rows, collector.total);
    if (problem !== '') await this.dry.setGroupReason(run.id, group, problem);
    return rows;
  }
}
