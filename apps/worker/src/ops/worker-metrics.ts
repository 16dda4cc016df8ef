import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ImportObserver, RunOutcome } from '@gw/jobs';

/** Seconds, from a tenth of a second to two hours: group stages and runs of any size. */
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

/** A source of gauges read at scrape time (slots, queue depths): never a scan of the job tables. */
export interface WorkerGaugeSource {
  slots(): { total: number; busy: number };
  waiting(): Promise<{ queue: string; waiting: number; oldestMs: number | null }[]>;
}

/**
 * The worker process's Prometheus registry (WORKER_METRICS_PORT): what its runs did (outcomes and
 * durations, rows and bytes staged by format, publish and stage phase durations, storage retries,
 * failures by error code), what it is doing (busy slots, waiting jobs and the oldest wait per
 * queue it consumes) and the Node process itself. Label values are bounded sets (outcomes,
 * formats, providers, error codes, queue names) — never job ids or URLs.
 */
@Injectable()
export class WorkerMetrics implements ImportObserver {
  readonly registry = new Registry();
  private readonly runs: Counter<'outcome'>;
  private readonly runSeconds: Histogram<'outcome'>;
  private readonly rows: Counter<'format'>;
  private readonly bytes: Counter<'format'>;
  private readonly phaseSeconds: Histogram<'phase'>;
  private readonly retries: Counter<'provider' | 'code'>;
  private readonly errors: Counter<'code'>;
  private source: WorkerGaugeSource | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'igw_worker_' });
    this.runs = new Counter({
      name: 'igw_worker_runs_total',
      help: 'Import runs this worker ended, by outcome (completed, failed, cancelled, released, skipped, retry).',
      labelNames: ['outcome'],
      registers,
    });
    this.runSeconds = new Histogram({
      name: 'igw_worker_run_duration_seconds',
      help: 'Duration of import runs, by outcome.',
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.rows = new Counter({
      name: 'igw_worker_rows_staged_total',
      help: 'Rows committed by this worker (staged, or published directly for one-group jobs), by file format; rate() is rows/s.',
      labelNames: ['format'],
      registers,
    });
    this.bytes = new Counter({
      name: 'igw_worker_bytes_read_total',
      help: 'Object bytes of the file groups this worker staged, by file format.',
      labelNames: ['format'],
      registers,
    });
    this.phaseSeconds = new Histogram({
      name: 'igw_worker_phase_duration_seconds',
      help: 'Duration of run phases: stage (one file group read, parsed and COPYed) and publish.',
      labelNames: ['phase'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.retries = new Counter({
      name: 'igw_worker_storage_retries_total',
      help: 'Storage requests retried or streams resumed after a transient failure, by provider and error code.',
      labelNames: ['provider', 'code'],
      registers,
    });
    this.errors = new Counter({
      name: 'igw_worker_errors_total',
      help: 'Runs that ended in an error, by error code (FORMAT_*, STORAGE_*, SINK_*, or the class of the error).',
      labelNames: ['code'],
      registers,
    });
    const slots: Gauge<'state'> = new Gauge({
      name: 'igw_worker_slots',
      help: 'Import slots of this worker (WORKER_CONCURRENCY), by state.',
      labelNames: ['state'],
      registers,
      collect: () => {
        const s = this.source?.slots();
        if (s === undefined) return;
        slots.set({ state: 'busy' }, s.busy);
        slots.set({ state: 'idle' }, Math.max(0, s.total - s.busy));
      },
    });
    // The three queue gauges share one pipelined Redis read per scrape (the registry collects
    // metrics concurrently, so each awaits the read in flight).
    const waiting: Gauge<'queue'> = new Gauge({
      name: 'igw_import_queue_waiting_jobs',
      help: 'Jobs waiting in each per-collection queue this worker consumes.',
      labelNames: ['queue'],
      registers,
      collect: async () => {
        waiting.reset();
        for (const r of await this.queueRead()) waiting.set({ queue: r.queue }, r.waiting);
      },
    });
    const oldest: Gauge<'queue'> = new Gauge({
      name: 'igw_import_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting in each per-collection queue this worker consumes (0 when none).',
      labelNames: ['queue'],
      registers,
      collect: async () => {
        oldest.reset();
        for (const r of await this.queueRead()) oldest.set({ queue: r.queue }, (r.oldestMs ?? 0) / 1000);
      },
    });
    const consumed: Gauge = new Gauge({
      name: 'igw_import_queues_consumed',
      help: 'Per-collection queues this worker consumes.',
      registers,
      collect: async () => consumed.set((await this.queueRead()).length),
    });
  }

  private queueReading: ReturnType<WorkerGaugeSource['waiting']> | undefined;

  /** The queue depths of this scrape: one read shared by whoever asks while it is in flight. */
  private queueRead(): ReturnType<WorkerGaugeSource['waiting']> {
    if (this.queueReading === undefined) {
      const read = this.source?.waiting() ?? Promise.resolve([]);
      this.queueReading = read;
      void read
        .finally(() => {
          if (this.queueReading === read) this.queueReading = undefined;
        })
        .catch(() => undefined);
    }
    return this.queueReading;
  }

  /** Where slot and queue gauges come from (the import dispatcher), set once it exists. */
  attach(source: WorkerGaugeSource): void {
    this.source = source;
  }

  runEnded(outcome: RunOutcome | 'retry', ms: number, errorCode?: string): void {
    this.runs.inc({ outcome });
    this.runSeconds.observe({ outcome }, ms / 1000);
    if (errorCode !== undefined) this.errors.inc({ code: errorCode });
  }

  groupStaged(e: { format: string; rows: number; bytes: number; ms: number }): void {
    this.rows.inc({ format: e.format }, e.rows);
    this.bytes.inc({ format: e.format }, e.bytes);
    this.phaseSeconds.observe({ phase: 'stage' }, e.ms / 1000);
  }

  published(e: { rows: number; ms: number }): void {
    this.phaseSeconds.observe({ phase: 'publish' }, e.ms / 1000);
  }

  storageRetry(e: { provider: string; code: string }): void {
    this.retries.inc({ provider: e.provider, code: e.code });
  }
}
