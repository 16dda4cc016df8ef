import type { JobRow, JobWebhookRow, WebhookTargetSpec } from '@gw/db';
import { redactWebhookUrl } from './webhook-targets';

/** The part of a job view describe needs for the `webhooks` field. */
export interface WebhooksView {
  job: Pick<JobRow, 'state' | 'request'>;
  /** Undefined: leave the field out (the body a webhook itself carries). */
  webhooks?: readonly JobWebhookRow[];
}

function snapshotTargets(request: Record<string, unknown>): WebhookTargetSpec[] {
  const w = request.webhooks;
  if (!Array.isArray(w)) return [];
  return w.filter(
    (t): t is WebhookTargetSpec =>
      typeof t === 'object' &&
      t !== null &&
      typeof (t as Record<string, unknown>).url === 'string' &&
      ((t as Record<string, unknown>).target === 'job' || (t as Record<string, unknown>).target === 'global'),
  );
}

const time = (d: Date | null) => (d === null ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z'));

/**
 * describe's `webhooks` (docs/api-extensions.md): one entry per target, URL without credentials or
 * query; `Waiting` until the job ends, then the delivery's state. Absent when the job has none.
 */
export function webhooksField(view: WebhooksView): { webhooks?: Record<string, unknown>[] } {
  if (view.webhooks === undefined) return {};
  const active = view.job.state === 'Pending' || view.job.state === 'Importing';
  const entries: Record<string, unknown>[] = active
    ? snapshotTargets(view.job.request).map((t) => ({
        target: t.target,
        url: redactWebhookUrl(t.url),
        state: 'Waiting',
        attempts: 0,
        lastStatus: null,
        lastError: '',
        deliverTime: '',
      }))
    : view.webhooks.map((w) => ({
        target: w.target,
        url: redactWebhookUrl(w.url),
        state: w.state,
        attempts: w.attempts,
        lastStatus: w.lastStatus,
        lastError: w.lastError,
        deliverTime: time(w.deliveredAt),
        ...(w.state === 'Pending' && w.attempts > 0 ? { nextAttemptTime: time(w.nextAttemptAt) } : {}),
      }));
  return entries.length === 0 ? {} : { webhooks: entries };
}
