import { CliError, CliErrorCode } from '../cli.errors';
import { type CliContext, println, withDb } from '../context';
import {
  formatBytes,
  formatCount,
  formatDuration,
  jobSnapshot,
  type JobSnapshot,
  ProgressMeter,
  progressLine,
  stateOf,
  TERMINAL_STATES,
} from '../progress';

/** Plain (non-terminal) output prints a line at most this often unless the state changes. */
const PLAIN_LINE_EVERY_MS = 1_000;

export async function describeJob(ctx: CliContext, jobId: string): Promise<JobSnapshot> {
  const data = await ctx.client().call('/v2/vectordb/jobs/import/describe', withDb(ctx, { jobId }));
  const parsed = jobSnapshot.safeParse(data);
  if (!parsed.success) throw new CliError(CliErrorCode.Api, `unexpected describe answer for ${jobId}`);
  return parsed.data;
}

/**
 * Polls describe until the job is terminal, drawing a live bar on a terminal and plain lines
 * otherwise. Resolves when Completed; throws JobFailed / JobCancelled (exit 10 / 11), or
 * Interrupted on Ctrl-C — which stops waiting, not the job.
 */
export async function waitForJob(ctx: CliContext, jobId: string, intervalMs: number): Promise<void> {
  const tty = ctx.stdout.isTTY === true;
  const meter = new ProgressMeter(Date.now());
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);
  let lastPlain = { at: 0, state: '', percent: -1 };
  let snapshot: JobSnapshot;
  try {
    for (;;) {
      snapshot = await describeJob(ctx, jobId);
      const now = Date.now();
      const f = meter.observe(snapshot, now);
      const terminal = TERMINAL_STATES.has(f.state);
      if (tty) {
        ctx.stdout.write(`\r\x1b[K${progressLine(f, true)}${terminal ? '\n' : ''}`);
      } else if (
        f.state !== lastPlain.state ||
        (f.percent !== lastPlain.percent && now - lastPlain.at >= PLAIN_LINE_EVERY_MS)
      ) {
        println(ctx.stdout, progressLine(f, false));
        lastPlain = { at: now, state: f.state, percent: f.percent };
      }
      if (terminal) {
        const state = stateOf(snapshot);
        if (state === 'Completed') {
          const rate = f.elapsedMs > 0 ? ` (${formatCount((f.rows * 1000) / f.elapsedMs)} rows/s)` : '';
          println(
            ctx.stdout,
            `Completed ${jobId}: ${formatCount(f.rows)} rows, ${formatBytes(f.bytesTotal)} in ${formatDuration(f.elapsedMs)}${rate}`,
          );
          return;
        }
        println(ctx.stdout, `${state} ${jobId}: ${snapshot.reason ?? ''}`);
        throw new CliError(
          state === 'Cancelled' ? CliErrorCode.JobCancelled : CliErrorCode.JobFailed,
          `job ${jobId} ${state.toLowerCase()}: ${snapshot.reason ?? ''}`,
        );
      }
      await sleep(intervalMs, interrupted.signal);
      if (interrupted.signal.aborted) {
        if (tty) ctx.stdout.write('\n');
        throw new CliError(
          CliErrorCode.Interrupted,
          `stopped waiting; ${jobId} keeps running (stop it with: import-gateway jobs cancel ${jobId})`,
        );
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      ok();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
