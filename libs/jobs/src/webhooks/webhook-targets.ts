import type { AppConfig } from '@gw/config';
import type { WebhookTargetSpec } from '@gw/db';
import { checkHostName, egressPolicyFrom, isStorageError } from '@gw/storage';
import { jobsErrors } from '../jobs.errors';

/**
 * The targets a new job will notify when it ends, snapshotted into the job's stored request at
 * admission (decision 1501): its own `options.webhook_url`, and `WEBHOOK_URL`. The job's URL gets
 * the storage SSRF rules that need no DNS here (scheme, deny/allow lists, internal names, literal
 * private or metadata addresses → 1100); the rest is checked after DNS at every delivery.
 */
export function webhookTargets(
  jobUrl: string | undefined,
  config: Pick<AppConfig, 'storage'> & { webhooks?: Pick<AppConfig['webhooks'], 'url'> },
): WebhookTargetSpec[] {
  const targets: WebhookTargetSpec[] = [];
  if (jobUrl !== undefined) {
    checkJobWebhookUrl(jobUrl, config.storage);
    targets.push({ target: 'job', url: jobUrl });
  }
  const global = config.webhooks?.url;
  if (global !== undefined) targets.push({ target: 'global', url: global });
  return targets;
}

function checkJobWebhookUrl(raw: string, storage: AppConfig['storage']): void {
  const url = new URL(raw); // syntax already checked by parseImportExtensions
  const policy = egressPolicyFrom(storage);
  if (url.protocol === 'http:' && !policy.allowHttp) {
    throw jobsErrors.invalid('options.webhook_url must be an https URL (plain http needs STORAGE_ALLOW_HTTP)');
  }
  try {
    checkHostName(url.hostname, policy);
  } catch (e) {
    if (isStorageError(e)) throw jobsErrors.invalid(`options.webhook_url host is not allowed: ${url.hostname}`);
    throw e;
  }
}

/** A URL as describe shows it: no user name, password, query or fragment (tokens often live there). */
export function redactWebhookUrl(raw: string): string {
  try {
    const u = new URL(raw);
    const query = u.search === '' ? '' : '?…';
    return `${u.protocol}//${u.host}${u.pathname}${query}`;
  } catch {
    return '<invalid URL>';
  }
}
