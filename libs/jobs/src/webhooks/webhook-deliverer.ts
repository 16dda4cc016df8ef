import http from 'node:http';
import https from 'node:https';
import { Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import type { AppConfig } from '@gw/config';
import { type ClaimedWebhook, ImportJobsRepository, WebhooksRepository, type WebhookAttemptResult } from '@gw/db';
import {
  EgressGuard,
  egressPolicyFrom,
  isStorageError,
  pinnedLookup,
  type Resolver,
  StorageErrorCode,
  systemResolver,
} from '@gw/storage';
import { describeV2 } from '../import/job-presenter';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature';
import { redactWebhookUrl } from './webhook-targets';

export interface WebhookDelivererOptions {
  config: Pick<AppConfig, 'webhooks' | 'storage'>;
  /** Tests: answers DNS without a lookup (the storage tests' resolver). */
  resolver?: Resolver;
  /** Deliveries claimed per pass. */
  batch?: number;
  /** Called after each recorded attempt (worker metrics). */
  onAttempt?: (outcome: WebhookAttemptResult['outcome']['kind']) => void;
}

/** A claim outlives the request by this much, so a slow record never races a second claim. */
const CLAIM_MARGIN_MS = 30_000;
const MAX_BACKOFF_MS = 3_600_000;
const ERROR_CHARS = 500;

/** What one HTTP attempt gave: a status, or no answer (with whether trying again can help). */
type Sent = { status: number } | { status: null; error: string; permanent: boolean };

/** Backoff after attempt `n` (1-based): base × 2^(n−1), at most an hour, plus up to 10 % jitter. */
export function webhookBackoffMs(baseMs: number, attempt: number, random = Math.random()): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(30, attempt - 1));
  return Math.round(exp * (1 + 0.1 * random));
}

/** Answers worth another attempt: the receiver is down, overloaded or timed out. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

/**
 * The delivery loop's body (decisions 1504–1506): claims due outbox rows, renders the describe body
 * once per delivery, POSTs it signed through the storage egress guard (resolve, check every
 * address, pin the connection to them; no redirects), and records the attempt. Runs in every
 * worker; the claim makes several workers safe, the outbox makes a restart lose nothing.
 */
export class WebhookDeliverer {
  private readonly log = new Logger('Webhooks');
  private readonly hooks: WebhooksRepository;
  private readonly jobs: ImportJobsRepository;
  private readonly guard: EgressGuard;
  private readonly httpAgent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent: https.Agent;

  constructor(
    pool: Pool,
    private readonly opts: WebhookDelivererOptions,
  ) {
    this.hooks = new WebhooksRepository(pool);
    this.jobs = new ImportJobsRepository(pool);
    this.guard = new EgressGuard(egressPolicyFrom(opts.config.storage), opts.resolver ?? systemResolver);
    this.httpsAgent = new https.Agent({ keepAlive: false, ...this.guard.tls });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** One pass: every due delivery (up to the batch) gets one attempt, in parallel. Returns how many. */
  async runOnce(): Promise<number> {
    const { timeoutMs } = this.opts.config.webhooks;
    const claimed = await this.hooks.claimDue(this.opts.batch ?? 16, timeoutMs + CLAIM_MARGIN_MS);
    await Promise.all(claimed.map((w) => this.deliver(w)));
    return claimed.length;
  }

  private async deliver(w: ClaimedWebhook): Promise<void> {
    const cfg = this.opts.config.webhooks;
    const payload = w.payload ?? (await this.render(w));
    const startedAt = new Date();
    const t0 = performance.now();
    const sent = await this.post(w, payload);
    const durationMs = performance.now() - t0;
    let outcome: WebhookAttemptResult['outcome'];
    let error = '';
    if (sent.status !== null && sent.status >= 200 && sent.status < 300) {
      outcome = { kind: 'delivered' };
    } else {
      const permanent = sent.status === null ? sent.permanent : !retryableStatus(sent.status);
      error = sent.status === null ? sent.error : `HTTP ${sent.status}`;
      outcome =
        permanent || w.attempt >= cfg.maxAttempts
          ? { kind: 'failed' }
          : { kind: 'retry', retryInMs: webhookBackoffMs(cfg.retryBaseMs, w.attempt) };
    }
    const recorded = await this.hooks.recordAttempt({
      id: w.id,
      attempt: w.attempt,
      startedAt,
      durationMs,
      status: sent.status,
      error: error.slice(0, ERROR_CHARS),
      outcome,
      payload,
    });
    this.opts.onAttempt?.(outcome.kind);
    const fields = {
      jobId: w.jobId,
      target: w.target,
      url: redactWebhookUrl(w.url),
      attempt: w.attempt,
      status: sent.status,
      outcome: outcome.kind,
      ...(error === '' ? {} : { error }),
      ...(recorded ? {} : { stale: true }),
    };
    if (outcome.kind === 'delivered') this.log.log(fields, 'webhook delivered');
    else this.log.warn(fields, outcome.kind === 'retry' ? 'webhook attempt failed; will retry' : 'webhook failed');
  }

  /** The describe body of the ended job, as the API answers it (without the `webhooks` field). */
  private async render(w: ClaimedWebhook): Promise<string> {
    const found = await this.jobs.findByJobId(w.jobId);
    // A delivery is deleted with its job, so the job is there; an empty object only if a race removed it.
    if (found === null) return '{}';
    return JSON.stringify(describeV2({ job: found.job, files: found.files, phases: found.phases }));
  }

  private async post(w: ClaimedWebhook, payload: string): Promise<Sent> {
    const cfg = this.opts.config.webhooks;
    let url: URL;
    let addresses;
    try {
      url = new URL(w.url);
      if (url.protocol === 'http:' && !this.guard.policy.allowHttp) {
        return { status: null, error: 'plain http webhook refused (needs STORAGE_ALLOW_HTTP)', permanent: true };
      }
      this.guard.checkScheme(url);
      addresses = await this.guard.resolve(url.hostname);
    } catch (e) {
      if (isStorageError(e)) {
        // A refused host or scheme stays refused; a DNS failure may pass.
        const permanent = e.code !== StorageErrorCode.Transient && e.code !== StorageErrorCode.NotFound;
        return { status: null, error: e.message.replace(/^object URL host/, 'webhook host'), permanent };
      }
      return { status: null, error: 'invalid webhook URL', permanent: true };
    }
    const unix = Math.floor(Date.now() / 1000);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(payload),
      'User-Agent': 'import-gateway-webhooks',
      'X-Gateway-Event': `import.${w.event.toLowerCase()}`,
      'X-Gateway-Delivery': w.id,
      'X-Gateway-Attempt': w.attempt,
      'X-Gateway-Job-Id': w.jobId,
      ...(cfg.secret === undefined ? {} : { [SIGNATURE_HEADER]: signWebhook(cfg.secret, payload, unix) }),
    };
    const request = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<Sent>((resolve) => {
      const req = request(url, {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(cfg.timeoutMs),
        lookup: pinnedLookup(addresses),
        agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
      });
      req.on('response', (res) => {
        // The body is not read for meaning; drain it so the socket closes.
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const timedOut = e.name === 'AbortError' || e.name === 'TimeoutError';
        resolve({
          status: null,
          error: timedOut ? `no answer within ${cfg.timeoutMs} ms` : `connection failed (${e.code ?? e.name})`,
          permanent: false,
        });
      });
      req.end(payload);
    });
  }
}
