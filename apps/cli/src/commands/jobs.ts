import { z } from 'zod';
import { CliError, CliErrorCode, usageError } from '../cli.errors';
import { type CliContext, println, withDb } from '../context';
import { describeJob, waitForJob } from './wait';

const listAnswer = z.object({
  count: z.number().optional(),
  records: z.array(
    z
      .object({
        jobId: z.string(),
        collectionName: z.string(),
        state: z.string(),
        gatewayState: z.string().optional(),
        progress: z.number(),
        createTime: z.string(),
        reason: z.string().optional(),
      })
      .loose(),
  ),
});

export interface JobsListOptions {
  collection?: string | undefined;
  state?: string | undefined;
  page?: number | undefined;
  pageSize?: number | undefined;
}

export async function jobsList(ctx: CliContext, o: JobsListOptions): Promise<void> {
  const body: Record<string, unknown> = withDb(ctx, {});
  if (o.collection !== undefined) body.collectionName = o.collection;
  if (o.state !== undefined) body.state = o.state;
  if (o.page !== undefined) body.currentPage = o.page;
  if (o.pageSize !== undefined) body.pageSize = o.pageSize;
  const data = await ctx.client().call('/v2/vectordb/jobs/import/list', body);
  if (ctx.json) return println(ctx.stdout, JSON.stringify(data, null, 2));
  const parsed = listAnswer.safeParse(data);
  if (!parsed.success) throw new CliError(CliErrorCode.Api, 'unexpected list answer');
  const rows = parsed.data.records.map((r) => [
    r.jobId,
    r.collectionName,
    r.gatewayState ?? r.state,
    `${r.progress}%`,
    r.createTime,
    r.reason ?? '',
  ]);
  printTable(ctx, ['JOB', 'COLLECTION', 'STATE', 'PROGRESS', 'CREATED', 'REASON'], rows);
  if (parsed.data.count !== undefined && parsed.data.count > rows.length) {
    ctx.stderr.write(`${rows.length} of ${parsed.data.count} jobs shown (--page, --page-size)\n`);
  }
}

export async function jobsDescribe(ctx: CliContext, jobId: string): Promise<void> {
  println(ctx.stdout, JSON.stringify(await describeJob(ctx, jobId), null, 2));
}

export async function jobsCancel(ctx: CliContext, jobId: string): Promise<void> {
  const data = await ctx.client().call('/v2/vectordb/jobs/import/cancel', withDb(ctx, { jobId }));
  if (ctx.json) return println(ctx.stdout, JSON.stringify(data, null, 2));
  const state = z.object({ gatewayState: z.string().optional(), state: z.string() }).safeParse(data);
  println(
    ctx.stdout,
    `${jobId}: ${state.success ? (state.data.gatewayState ?? state.data.state) : 'cancel requested'}`,
  );
}

export async function jobsWait(ctx: CliContext, jobId: string, intervalMs: number): Promise<void> {
  await waitForJob(ctx, jobId, intervalMs);
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function printTable(ctx: CliContext, header: string[], rows: string[][]): void {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all) {
    println(
      ctx.stdout,
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    );
  }
}

export function requireId(id: string | undefined, what: string): string {
  if (id === undefined || id === '') throw usageError(`${what} is required`);
  return id;
}
