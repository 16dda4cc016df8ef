import { z } from 'zod';
import { CliError, CliErrorCode } from '../cli.errors';
import { type CliContext, println, withDb } from '../context';

export async function collectionsList(ctx: CliContext): Promise<void> {
  const data = await ctx.client().call('/v2/vectordb/collections/list', withDb(ctx, {}));
  if (ctx.json) return println(ctx.stdout, JSON.stringify(data, null, 2));
  const names = z.array(z.string()).safeParse(data);
  if (!names.success) throw new CliError(CliErrorCode.Api, 'unexpected collections/list answer');
  for (const n of names.data) println(ctx.stdout, n);
}

export async function collectionsDescribe(ctx: CliContext, name: string): Promise<void> {
  const body = withDb(ctx, { collectionName: name });
  const data = await ctx.client().call('/v2/vectordb/collections/describe', body);
  // The row count is what people check after an import; describe alone does not carry it.
  const stats = await ctx.client().call('/v2/vectordb/collections/get_stats', body);
  const rowCount = z.object({ rowCount: z.number() }).safeParse(stats);
  const out = {
    ...(data as Record<string, unknown>),
    ...(rowCount.success ? { rowCount: rowCount.data.rowCount } : {}),
  };
  println(ctx.stdout, JSON.stringify(out, null, 2));
}
