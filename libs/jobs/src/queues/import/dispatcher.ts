import { randomBytes } from 'node:crypto';
import { createRedisBackend, type Job, UnrecoverableError, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { type ImportJobData, importJobData } from './import-queue';
import { ReadySet } from './ready-set';

export interface DispatcherOptions {
  prefix: string;
  /** Jobs this process runs at once (WORKER_CONCURRENCY). */
  slots: number;
  /** BullMQ lock of a running job; renewed every half of it. Equal to the Postgres lease. */
  lockDurationMs: number;
  /** How often each queue's stalled checker returns jobs of dead workers to wait. */
  stalledIntervalMs: number;
  /** Pause of an idle slot before it asks again. */
  idleDelayMs?: number;
  /**
   * Work a slot may do when no queue has a job for it (helping a running job stage its groups);
   * resolves whether it did any, so the slot asks again at once instead of pausing.
   */
  idleWork?: (shutdown: AbortSignal) => Promise<boolean>;
}

/** Runs one job; throws to fail it (UnrecoverableError: no retry). */
export type JobHandler = (data: ImportJobData, ctx: { shutdown: AbortSignal }) => Promise<void>;

interface InFlight {
  worker: Worker;
  job: Job;
  token: string;
}

/**
 * Consumes every per-collection queue fairly on ONE Redis connection per process
 * (../shared/notes/bullmq-per-collection.md): slot loops claim the next collection round-robin
 * from the ready set, then take one job with a non-blocking `getNextJob` on a cached Worker that
 * opens no connection of its own. Locks are renewed here because manual processing does not.
 */
export class FairDispatcher {
  private readonly ready: ReadySet;
  private readonly workers = new Map<string, Worker>();
  private readonly inFlight = new Set<InFlight>();
  private readonly shutdown = new AbortController();
  private loops: Promise<void>[] = [];
  private renewTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly connection: Redis,
    private readonly opts: DispatcherOptions,
    private readonly handler: JobHandler,
    private readonly onError: (err: unknown, context: string) => void = () => undefined,
  ) {
    this.ready = new ReadySet(connection, opts.prefix);
  }

  /** The cached consumer of one queue; created on first use, with its stalled-job checker. */
  workerFor(queueName: string): Worker {
    let w = this.workers.get(queueName);
    if (w === undefined) {
      w = new Worker(
        queueName,
        null,
        {
          connection: this.connection,
          prefix: this.opts.prefix,
          autorun: false,
          lockDuration: this.opts.lockDurationMs,
          stalledInterval: this.opts.stalledIntervalMs,
          // PostgreSQL counts attempts (import_jobs.attempts, IMPORT_MAX_ATTEMPTS) and fails a job
          // whose runs keep dying; BullMQ must not give up on a stalled job before that.
          maxStalledCount: 1_000,
        },
        (n, o, f) => createRedisBackend(n, o, { ...f, withBlockingConnection: false }),
      );
      w.on('error', (e) => this.onError(e, `worker ${queueName}`));
      this.workers.set(queueName, w);
      w.startStalledCheckTimer().catch((e: unknown) => this.onError(e, `stalled checker ${queueName}`));
    }
    return w;
  }

  start(): void {
    this.loops = Array.from({ length: this.opts.slots }, (_, i) => this.slot(i));
    this.renewTimer = setInterval(
      () => {
        this.renewLocks().catch((e: unknown) => this.onError(e, 'lock renewal'));
      },
      Math.max(500, Math.floor(this.opts.lockDurationMs / 2)),
    );
  }

  /** Wakes idle slots (a job was just enqueued or recovered). */
  nudge(): void {
    this.wake?.();
  }

  private async idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.opts.idleDelayMs ?? 200);
      const prev = this.wake;
      this.wake = () => {
        clearTimeout(t);
        prev?.();
        resolve();
      };
    });
    this.wake = undefined;
  }

  private async slot(i: number): Promise<void> {
    const token = `${randomBytes(8).toString('hex')}:${i}`;
    while (!this.stopping) {
      let name: string | null = null;
      try {
        name = await this.ready.claim();
      } catch (e) {
        this.onError(e, 'claim');
      }
      if (name === null) {
        if (!(await this.idleWork())) await this.idle();
        continue;
      }
      const worker = this.workerFor(name);
      let job: Job | undefined;
      try {
        job = (await worker.getNextJob(token, { block: false })) as Job | undefined;
      } catch (e) {
        this.onError(e, `getNextJob ${name}`);
      }
      if (job === undefined || job === null) continue;
      await this.process(worker, job, token);
    }
  }

  private async idleWork(): Promise<boolean> {
    if (this.opts.idleWork === undefined || this.stopping) return false;
    try {
      return await this.opts.idleWork(this.shutdown.signal);
    } catch (e) {
      this.onError(e, 'idle work');
      return false;
    }
  }

  private async process(worker: Worker, job: Job, token: string): Promise<void> {
    const entry: InFlight = { worker, job, token };
    this.inFlight.add(entry);
    try {
      if (job.deferredFailure) throw new UnrecoverableError(job.deferredFailure);
      const data = importJobData.parse(job.data);
      await this.handler(data, { shutdown: this.shutdown.signal });
      await job
        .moveToCompleted(undefined, token, false)
        .catch((e: unknown) => this.onError(e, `complete ${job.id ?? ''}`));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      await job.moveToFailed(err, token, false).catch((x: unknown) => this.onError(x, `fail ${job.id ?? ''}`));
    } finally {
      this.inFlight.delete(entry);
      this.nudge();
    }
  }

  private async renewLocks(): Promise<void> {
    const byWorker = new Map<Worker, InFlight[]>();
    for (const f of this.inFlight) byWorker.set(f.worker, [...(byWorker.get(f.worker) ?? []), f]);
    for (const [w, list] of byWorker) {
      await w.extendJobLocks(
        list.map((f) => f.job.id!),
        list.map((f) => f.token),
        this.opts.lockDurationMs,
      );
    }
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** The queues this process consumes (one per collection it has seen work for). */
  get queueNames(): string[] {
    return [...this.workers.keys()];
  }

  /** True between start() and stop(): the process is taking jobs. */
  get accepting(): boolean {
    return this.loops.length > 0 && !this.stopping;
  }

  /**
   * Stops taking jobs, asks running ones to stop (they release their Postgres lease and go back
   * to the queue), waits for them up to `graceMs`, then closes the per-queue consumers.
   */
  async stop(graceMs = 8_000): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.shutdown.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.loops),
      new Promise((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
    clearInterval(this.renewTimer);
    await Promise.allSettled([...this.workers.values()].map((w) => w.close(true)));
    this.workers.clear();
  }
}
