import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { z } from 'zod';
import { GroupCommit } from '@gw/db';
import { JOB_ID_PATTERN } from '../../import/job-id';
import { ReadySet } from './ready-set';

/** The only thing a queue message carries: the job id. Credentials stay encrypted in Postgres. */
export const importJobData = z.object({ jobId: z.string().regex(JOB_ID_PATTERN) });
export type ImportJobData = z.infer<typeof importJobData>;
export const IMPORT_JOB_NAME = 'import';

/**
 * One BullMQ queue per collection. Database and collection names are Milvus names
 * (`[A-Za-z_][A-Za-z0-9_]*`), so `-` is a safe separator; anything else is hex-escaped because
 * BullMQ queue names cannot contain `:`.
 */
export function importQueueName(dbName: string, collectionName: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_]/g, (ch) => `~${ch.codePointAt(0)!.toString(16)}~`);
  return `imp-${safe(dbName)}-${safe(collectionName)}`;
}

/** Producer side of the per-collection import queues (the worker consumes them fairly). */
export interface JobQueue {
  enqueue(dbName: string, collectionName: string, jobId: string): Promise<void>;
  /** Removes a waiting job (after cancel); a job that is running or gone is left alone. */
  remove(dbName: string, collectionName: string, jobId: string): Promise<void>;
}

export interface BullJobQueueOptions {
  prefix: string;
  /** BullMQ attempts for transient failures. */
  attempts: number;
  /** Longest wait for Redis on the HTTP path; past it the job stays Pending for the reconciler. */
  timeoutMs?: number;
  /** Jobs of one collection running at once, across workers (BullMQ global concurrency). */
  collectionConcurrency?: number;
}

/** BullMQ waits for a connection that may never come; the HTTP path must not. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`${what}: Redis did not answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Jobs of one queue enqueued in one go at most (one addBulk). */
const ENQUEUE_BATCH = 256;

interface Enqueued {
  dbName: string;
  collectionName: string;
  jobId: string;
}

/** BullMQ driver: Queue objects cached per collection, all on the one connection given. */
export class BullJobQueue implements JobQueue {
  private readonly queues = new Map<string, Queue>();
  readonly ready: ReadySet;
  /**
   * Enqueues of one queue that arrive while its previous enqueue is in flight go together: three
   * Redis round trips per group (concurrency, addBulk, ready mark) instead of three per job — a
   * burst of creates of one collection is admitted in groups (decision 1102) and enqueued so too.
   */
  private readonly adds: GroupCommit<Enqueued, undefined>;

  constructor(
    private readonly connection: Redis,
    private readonly opts: BullJobQueueOptions,
  ) {
    this.ready = new ReadySet(connection, opts.prefix);
    this.adds = new GroupCommit<Enqueued, undefined>(ENQUEUE_BATCH, async (items) => {
      await this.addAll(
        items[0]!.dbName,
        items[0]!.collectionName,
        items.map((x) => x.jobId),
      );
      return items.map(() => undefined);
    });
  }

  queueFor(dbName: string, collectionName: string): Queue {
    const name = importQueueName(dbName, collectionName);
    let q = this.queues.get(name);
    if (q === undefined) {
      q = new Queue(name, { connection: this.connection, prefix: this.opts.prefix });
      q.on('error', () => undefined); // reported by the caller's failed add, not as an unhandled event
      this.queues.set(name, q);
    }
    return q;
  }

  async enqueue(dbName: string, collectionName: string, jobId: string): Promise<void> {
    const work = this.adds.submit(importQueueName(dbName, collectionName), { dbName, collectionName, jobId });
    work.catch(() => undefined); // a late failure after the timeout is already reported
    await within(work, this.opts.timeoutMs ?? 2_000, 'enqueue');
  }

  private async addAll(dbName: string, collectionName: string, jobIds: readonly string[]): Promise<void> {
    const queue = this.queueFor(dbName, collectionName);
    // Set on every enqueue (one HSET): it must survive a Redis flush. BullMQ's own move-to-active
    // then refuses a second active job of the collection, atomically across processes.
    await queue.setGlobalConcurrency(this.opts.collectionConcurrency ?? 1);
    // BullMQ's job id = our job id: adding a job Redis already holds is a no-op, so the
    // reconciler may re-add freely.
    await queue.addBulk(
      jobIds.map((jobId) => ({
        name: IMPORT_JOB_NAME,
        data: { jobId } satisfies ImportJobData,
        opts: {
          jobId,
          attempts: this.opts.attempts,
          backoff: { type: 'exponential', delay: 2_000 },
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3600 },
        },
      })),
    );
    await this.ready.mark(importQueueName(dbName, collectionName));
  }

  async remove(dbName: string, collectionName: string, jobId: string): Promise<void> {
    const removed = this.queueFor(dbName, collectionName).remove(jobId);
    removed.catch(() => undefined);
    await within(removed, this.opts.timeoutMs ?? 2_000, 'remove');
  }

  /**
   * Jobs waiting in each queue and the age of the oldest (metrics): a few Redis commands per queue
   * in one pipeline — BullMQ's `wait` list (oldest at its tail) and `prioritized` set.
   */
  async waiting(queueNames: readonly string[]): Promise<{ queue: string; waiting: number; oldestMs: number | null }[]> {
    if (queueNames.length === 0) return [];
    const key = (q: string, suffix: string) => `${this.opts.prefix}:${q}:${suffix}`;
    const p = this.connection.pipeline();
    for (const q of queueNames) p.llen(key(q, 'wait')).zcard(key(q, 'prioritized')).lindex(key(q, 'wait'), -1);
    const res = (await p.exec()) ?? [];
    const oldestIds = queueNames.map((_, i) => res[3 * i + 2]?.[1]);
    const p2 = this.connection.pipeline();
    queueNames.forEach((q, i) => {
      const id = oldestIds[i];
      if (typeof id === 'string') p2.hget(key(q, id), 'timestamp');
    });
    const stamps = ((await p2.exec()) ?? []).map((r) => r[1]);
    const now = Date.now();
    let k = 0;
    return queueNames.map((queue, i) => {
      const count = (n: unknown) => (typeof n === 'number' ? n : 0);
      const stamp = typeof oldestIds[i] === 'string' ? stamps[k++] : null;
      const ts = typeof stamp === 'string' ? Number(stamp) : NaN;
      return {
        queue,
        waiting: count(res[3 * i]?.[1]) + count(res[3 * i + 1]?.[1]),
        oldestMs: Number.isFinite(ts) ? Math.max(0, now - ts) : null,
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
