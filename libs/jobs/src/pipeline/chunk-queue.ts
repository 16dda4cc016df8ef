import type { EncodedChunk } from '@gw/sink';

/** Wakes everyone waiting; a waiter re-checks its own condition (no lost wake-ups, no ordering). */
export class Notifier {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

/** The consumer is gone (the COPY failed or finished early): the producer should stop. */
export class QueueClosedError extends Error {
  constructor() {
    super('chunk queue closed');
  }
}

/**
 * The bounded hand-off between the producer (read, parse, validate, encode) and the COPY writer.
 * Bounded by bytes, not items: push waits while the queued bytes plus the new chunk would pass
 * `maxBytes` (a chunk larger than the bound is admitted alone, so nothing deadlocks).
 */
export class ChunkQueue implements AsyncIterable<EncodedChunk> {
  private readonly items: EncodedChunk[] = [];
  private queued = 0;
  private peak = 0;
  private ended = false;
  private closed = false;
  private failure: { error: unknown } | null = null;
  /** Fires on every change: push, shift, end, fail, close. */
  readonly changed = new Notifier();

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.queued;
  }

  /** Most bytes ever queued at once. */
  get maxObservedBytes(): number {
    return this.peak;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async push(c: EncodedChunk): Promise<void> {
    while (!this.closed && this.items.length > 0 && this.queued + c.byteLength > this.maxBytes)
      await this.changed.wait();
    if (this.closed) throw new QueueClosedError();
    this.items.push(c);
    this.queued += c.byteLength;
    if (this.queued > this.peak) this.peak = this.queued;
    this.changed.notify();
  }

  /** Waits until fewer than maxBytes - reserve bytes are queued (or the queue is closed). */
  async room(reserve = 0): Promise<void> {
    while (!this.closed && this.queued + reserve >= this.maxBytes) await this.changed.wait();
  }

  end(): void {
    this.ended = true;
    this.changed.notify();
  }

  fail(error: unknown): void {
    if (this.failure === null) this.failure = { error };
    this.changed.notify();
  }

  /** The consumer stops: pending and future pushes reject with QueueClosedError. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.queued = 0;
    this.changed.notify();
  }

  [Symbol.asyncIterator](): AsyncIterator<EncodedChunk> {
    return {
      next: async (): Promise<IteratorResult<EncodedChunk>> => {
        for (;;) {
          const c = this.items.shift();
          if (c !== undefined) {
            this.queued -= c.byteLength;
            this.changed.notify();
            return { done: false, value: c };
          }
          // Chunks queued before a failure are still delivered first: they precede it in the file.
          if (this.failure !== null) throw this.failure.error;
          if (this.ended || this.closed) return { done: true, value: undefined };
          await this.changed.wait();
        }
      },
      return: async (): Promise<IteratorResult<EncodedChunk>> => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }
}
